"""Tunes a copy of the embedding model on (question-like text, passage) pairs, with sentence-transformers' own
trainer and a contrastive loss, within a time budget."""

from __future__ import annotations

import copy
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

MIN_PAIRS = 8  # fewer pairs teach nothing an in-batch contrastive loss can use
MAX_PAIRS = 4000  # pairs at most (a seeded sample past it): a budget of minutes covers less on a CPU
EPOCHS = 3.0  # passes over the pairs, as the budget allows
CHECKED_PAIRS = 200  # training-side pairs retrieved to measure the hit rate, before and after tuning


class TuningUnavailable(RuntimeError):
    """The training libraries are missing, or there is too little to train on; the message says which."""


@dataclass
class EmbeddingTraining:
    model_dir: str
    pairs: int
    steps: int  # optimizer steps that ran
    planned_steps: int  # what the epochs asked for
    seconds: float  # set-up, training and saving
    stopped_by_budget: bool
    batch_size: int
    losses: list[dict] = field(default_factory=list)  # {"step", "loss"} as logged

    def to_dict(self) -> dict:
        return asdict(self)


def _trainer_parts():
    """sentence-transformers' trainer, its arguments, the loss and the no-duplicates sampler; `datasets` with them."""
    try:
        import datasets  # noqa: F401  (the trainer reads its data from a datasets.Dataset)
        from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    except ImportError as exc:
        raise TuningUnavailable(f"tuning the embeddings needs the 'adapt' extras ({exc.name} is missing): "
                                "pip install 'ft-rag-advisor[adapt]'") from None
    try:  # where sentence-transformers 6.3 keeps them; the older paths still work, with a warning
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
        from sentence_transformers.sentence_transformer.training_args import BatchSamplers
    except ImportError:
        from sentence_transformers.losses import MultipleNegativesRankingLoss
        from sentence_transformers.training_args import BatchSamplers
    return SentenceTransformerTrainer, SentenceTransformerTrainingArguments, MultipleNegativesRankingLoss, BatchSamplers


def passages_without_gradient(loss_class):
    """`loss_class` (a contrastive loss over (query, passage) columns) with only the queries' embeddings taking a
    gradient: the passages are embedded by the same model under torch.no_grad, as fixed targets of each step.
    The passages are the long column (128-token chunks against questions of a dozen), so most of a step's
    backward pass is theirs."""
    import torch

    class QueriesTakeTheGradient(loss_class):
        def forward(self, sentence_features, labels):
            features = list(sentence_features)
            queries = self.model(features[0])["sentence_embedding"]
            with torch.no_grad():
                passages = [self.model(column)["sentence_embedding"] for column in features[1:]]
            return self.compute_loss_from_embeddings([queries, *passages], labels)

    return QueriesTakeTheGradient


def _without_model_card(trainer_class):
    """The trainer, less the callback that gathers a model card's data (sentence-transformers' documented way to
    leave it out): computing its example widgets prints a progress bar, and no card is written."""
    class Trainer(trainer_class):
        def add_model_card_callback(self, default_args_dict):
            pass
    return Trainer


def without_attention_dropout(model) -> int:
    """Sets to 0 the dropout on attention probabilities (a Dropout held by an attention module: BERT's, MPNet's,
    DistilBERT's), keeping the hidden-state dropout; returns how many were set. With dropout on its probabilities,
    PyTorch's scaled_dot_product_attention falls back to its unfused form, which keeps every head's full
    attention matrix and its random mask for the backward pass: on all-MiniLM-L6-v2, steps of 32 pairs of
    128-token passages on the 2-core CPU peaked 0.8 GB higher and ran 14% slower with it (the note of issue 25)."""
    import torch

    set_to_zero = 0
    for module in model.modules():
        kind = type(module).__name__
        if "Attention" not in kind or kind.endswith("Output"):
            continue
        for child in module.children():
            if isinstance(child, torch.nn.Dropout) and child.p:
                child.p = 0.0
                set_to_zero += 1
    return set_to_zero


def tune_embedder(embedder, pairs: list[tuple[str, str]], out_dir: str | Path, *, budget_seconds: float,
                  epochs: float = 1.0, batch_size: int = 32, learning_rate: float = 5e-5, seed: int = 0,
                  bf16: bool = False, passage_gradient: bool = True, on_step=None):
    """A copy of `embedder` trained on `pairs` (query, passage) with MultipleNegativesRankingLoss: each query's
    own passage against the batch's other passages (no passage twice in a batch, so none is a false negative).
    The original is left as it was; the copy trains without dropout on attention probabilities
    (without_attention_dropout). `bf16`: under bfloat16 autocast. No step starts that would end past
    `budget_seconds`. `passage_gradient=False`: the passages' embeddings take no gradient
    (passages_without_gradient). `on_step(step, planned, loss)` after each step. Returns (tuned model,
    EmbeddingTraining); the model is saved in `out_dir`."""
    from datasets import Dataset
    from transformers import PrinterCallback

    from finetune.trainer_budget import budget_callback

    Trainer, Arguments, Loss, Samplers = _trainer_parts()
    if len({query for query, _ in pairs}) < MIN_PAIRS:
        raise TuningUnavailable(f"only {len(pairs)} training-side question/passage pair(s) could be made; "
                                f"tuning the embeddings needs at least {MIN_PAIRS}")
    start = time.perf_counter()
    model = copy.deepcopy(embedder)
    without_attention_dropout(model)
    data = Dataset.from_dict({"anchor": [query for query, _ in pairs], "positive": [passage for _, passage in pairs]})
    batch = max(2, min(batch_size, len(pairs)))

    budget = budget_callback(start, budget_seconds, on_step)
    device = str(next(model.parameters()).device)
    with tempfile.TemporaryDirectory(prefix="advisor-embeddings-") as scratch:
        args = Arguments(output_dir=scratch, num_train_epochs=epochs, per_device_train_batch_size=batch,
                         learning_rate=learning_rate, warmup_steps=0.1, batch_sampler=Samplers.NO_DUPLICATES,
                         seed=seed, logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
                         use_cpu=device == "cpu", dataloader_pin_memory=False, bf16=bf16)
        loss = Loss(model) if passage_gradient else passages_without_gradient(Loss)(model)
        trainer = _without_model_card(Trainer)(model=model, args=args, train_dataset=data, loss=loss,
                                               callbacks=[budget])
        trainer.remove_callback(PrinterCallback)  # progress goes through on_step, never by printing
        trainer.train()
    model.eval()
    out_dir = Path(out_dir)
    model.save(str(out_dir), create_model_card=False)
    losses = [{"step": entry["step"], "loss": entry["loss"]} for entry in trainer.state.log_history if "loss" in entry]
    steps = trainer.state.global_step
    return model, EmbeddingTraining(str(out_dir), len(pairs), steps, trainer.state.max_steps,
                                    time.perf_counter() - start, steps < trainer.state.max_steps, batch, losses)
