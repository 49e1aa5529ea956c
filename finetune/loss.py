"""The causal language-model loss from the labelled positions only, the vocabulary's logits a slice at a time: the
same value and gradients as the model's own, less to compute and to hold."""

from __future__ import annotations

import contextlib
import functools
import inspect

from finetune.data import IGNORE_INDEX

# Causal LMs (config.model_type) whose logits are their output layer applied to the last hidden states and nothing
# more; Gemma 2 soft-caps them afterwards, Granite and Cohere scale them, so those keep the plain path.
PLAIN_OUTPUT_LAYER = frozenset({"llama", "mistral", "qwen2", "qwen3", "smollm3", "phi3", "olmo2", "gemma"})
# The vocabulary logits held at once, at most, on the frozen-head path: 32 MiB keeps 170 positions of SmolLM2's
# 49,152-token vocabulary on a CPU; a GPU takes larger slices, which keep its matrix units busy.
SLICE_BYTES = {"cuda": 2 ** 30}
DEFAULT_SLICE_BYTES = 32 * 2 ** 20


def accepts_positions(model) -> bool:
    """Whether `model` (peft-wrapped or not) takes `logits_to_keep`, which can pick the positions to project onto the
    vocabulary (transformers' causal LMs: Llama, Mistral, Qwen and most others). Asked every training step: the
    answer is the model class's, read once."""
    return _forward_takes(type(unwrapped(model)), "logits_to_keep")


@functools.cache
def _forward_takes(model_class, keyword: str) -> bool:
    return keyword in inspect.signature(model_class.forward).parameters


def unwrapped(model):
    """The transformers model under DDP's and peft's wrappers."""
    model = getattr(model, "module", model)  # DistributedDataParallel
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def frozen_plain_head(model):
    """The output layer's weight when the slice-at-a-time path applies to `model`: a plain output layer (see
    PLAIN_OUTPUT_LAYER) without bias, frozen (LoRA leaves it so); else None."""
    base = unwrapped(model)
    head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
    if (getattr(base.config, "model_type", None) not in PLAIN_OUTPUT_LAYER or head is None
            or getattr(head, "bias", None) is not None or getattr(head, "weight", None) is None
            or head.weight.requires_grad or not accepts_positions(model)):
        return None
    return head.weight


@contextlib.contextmanager
def _hidden_states_for_logits(model):
    """Within it, `model` returns the last hidden states where it would return logits: its output layer is an
    identity, put back on leaving."""
    import torch

    base = unwrapped(model)
    head = base.get_output_embeddings()
    base.set_output_embeddings(torch.nn.Identity())
    try:
        yield
    finally:
        base.set_output_embeddings(head)


@functools.cache
def _frozen_head_cross_entropy():
    import torch

    class FrozenHeadCrossEntropy(torch.autograd.Function):
        """The summed cross-entropy of `hidden @ weight.T` against `targets`, with `weight` frozen, computed
        `rows` positions at a time: each slice's gradient (softmax minus one-hot, times the weight) is taken in
        the forward pass, so only the hidden states' gradient is kept for the backward pass, never the logits.
        The same arithmetic as the output layer's forward and backward, in `dtype` (bf16 under autocast)."""

        @staticmethod
        def forward(ctx, hidden, weight, targets, rows, dtype):
            total = torch.zeros((), dtype=torch.float32, device=hidden.device)
            gradient = torch.empty_like(hidden)
            weight = weight.to(dtype)
            for start in range(0, hidden.shape[0], rows):
                logits = (hidden[start:start + rows].to(dtype) @ weight.T).float()
                wanted = targets[start:start + rows]
                normaliser = torch.logsumexp(logits, dim=-1)
                total += (normaliser - logits.gather(1, wanted[:, None]).squeeze(1)).sum()
                probabilities = logits.sub_(normaliser[:, None]).exp_()
                probabilities[torch.arange(len(wanted), device=wanted.device), wanted] -= 1.0
                gradient[start:start + rows] = (probabilities.to(dtype) @ weight).to(hidden.dtype)
            ctx.save_for_backward(gradient)
            return total

        @staticmethod
        def backward(ctx, upstream):
            (gradient,) = ctx.saved_tensors
            return gradient * upstream, None, None, None, None

    return FrozenHeadCrossEntropy


def labelled_positions_loss(model, inputs: dict, num_items_in_batch=None, *, bf16: bool = False):
    """The next-token cross-entropy of `inputs` (input_ids, attention_mask, labels with IGNORE_INDEX where no loss
    is wanted), equal to the model's own `outputs.loss`, but over the positions whose next token is a label only: a
    question/answer example's prompt and every example's padding need no logits, and over a 49,152-token vocabulary
    that projection and its log-softmax are a large share of a small model's step. Where the output layer is frozen
    and plain (frozen_plain_head), its logits are also never held whole: they are made and dropped a slice at a
    time (on SmolLM2-135M, passes of 2 x 256 tokens, the loss's share of a step's peak memory fell from 370 MB to
    a few). `bf16`: the model runs under bfloat16 autocast, so the output layer's products are taken in bf16, as
    autocast would. Sums over the labels and divides by `num_items_in_batch` when given (the Trainer's count over
    a whole accumulated batch), else by this batch's labels, as transformers' loss does. Returns (loss, the
    model's outputs: their `logits` are the hidden states of labelled positions on the slice-at-a-time path)."""
    import torch
    import torch.nn.functional as F

    labels = inputs["labels"]
    shifted = F.pad(labels, (0, 1), value=IGNORE_INDEX)[:, 1:]
    keep = shifted != IGNORE_INDEX
    features = {k: v for k, v in inputs.items() if k != "labels"}
    weight = frozen_plain_head(model)
    if weight is not None:
        with _hidden_states_for_logits(model):
            outputs = model(**features, logits_to_keep=keep)
        rows = max(1, SLICE_BYTES.get(weight.device.type, DEFAULT_SLICE_BYTES) // (4 * weight.shape[0]))
        total = _frozen_head_cross_entropy().apply(outputs.logits, weight, shifted[keep], rows,
                                                   torch.bfloat16 if bf16 else weight.dtype)
    else:
        outputs = model(**features, logits_to_keep=keep)
        logits = outputs.logits
        if logits.dim() == 3:  # a model that took the mask but projected every position
            logits = logits[keep]
        total = F.cross_entropy(logits.float(), shifted[keep], reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else keep.sum()
    return total / max(count, 1), outputs  # a batch with no label at all gives 0, not 0/0
