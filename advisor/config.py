"""AdvisorConfig: every setting of a run, checked on creation and round-tripped through JSON."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.errors import ConfigError

DEFAULT_BASE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
GOALS = ("knowledge", "style", "both")
GOAL_HELP = {  # what each goal means, and how a run measures it
    "knowledge": "The model should know the facts in your documents. Measured on held-out questions (your QA "
                 "file, or fill-in-the-blank probes made from the corpus): is the reference answer in the answer?",
    "style": "The model should write the way your documents do (tone, format). Measured on held-out documents: "
             "how well each option predicts their text, and how it continues them.",
    "both": "Both of the above, each measured its own way; the fine-tune answering with RAG is measured too.",
}
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
TUNE_EMBEDDINGS = ("auto", "always", "never")


def _help(text: str, default: Any, *, metavar: str | None = None, choices: tuple[str, ...] | None = None,
          switch_off: tuple[str, str] | None = None) -> Any:
    """A setting with its help text and how the command line takes it (advisor/cli.py draws each option from
    these): `metavar`, `choices`, and for a setting on by default, `switch_off`, the (flag, help) that turns it off."""
    metadata = {"help": text, "metavar": metavar, "choices": choices, "switch_off": switch_off}
    if callable(default):
        return field(default_factory=default, metadata=metadata)
    return field(default=default, metadata=metadata)


# What a run folder's config.json written before a setting existed meant by leaving it out.
SETTINGS_BEFORE_THEY_EXISTED = {"augment": False, "tune_embeddings": "never", "augment_model": "none"}

CHANGE_RATES = ("static", "monthly", "weekly", "daily")


@dataclass
class Constraints:
    """What the user needs besides quality; the decision weighs each one and cites it."""

    data_changes: str = _help("How often the documents change: static, monthly, weekly or daily "
                              "(a fine-tune must be retrained to keep up; an index only rebuilt).", "static",
                              choices=CHANGE_RATES)
    must_cite_sources: bool = _help("Answers must point at the passage they come from (only retrieval "
                                    "can).", False)
    latency_limit_ms: float | None = _help("Longest acceptable time for one answer, in milliseconds.", None,
                                           metavar="MS")
    one_off_budget_usd: float | None = _help("Most you will spend once (indexing, training), in USD.", None,
                                             metavar="USD")
    monthly_budget_usd: float | None = _help("Most you will spend per month on answering, in USD.", None, metavar="USD")
    queries_per_month: int | None = _help("Questions you expect per month (prices the monthly cost).", None,
                                          metavar="N")
    data_may_leave_machine: bool = _help("The documents may be sent to a hosted service (false: "
                                         "everything must run on your own hardware).", True,
                                         switch_off=("--keep-data-local",
                                                     "The documents must not leave your machine (no hosted services)."))

    def __post_init__(self) -> None:
        if self.data_changes not in CHANGE_RATES:
            raise ConfigError(f"data_changes must be one of {', '.join(CHANGE_RATES)}, not {self.data_changes!r}")
        for name in ("latency_limit_ms", "one_off_budget_usd", "monthly_budget_usd", "queries_per_month"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise ConfigError(f"{name} must be a non-negative number, not {value!r}")
        for name in ("must_cite_sources", "data_may_leave_machine"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, not {getattr(self, name)!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Constraints":
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(f"unknown constraint(s): {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def help_text(cls, name: str) -> str:
        return next(f.metadata["help"] for f in dataclasses.fields(cls) if f.name == name)


@dataclass
class AdvisorConfig:
    corpus: str = _help("Folder of documents (.txt, .md, .rst, .html, .pdf, .docx, .jsonl), read recursively.", "")
    goal: str = _help("'knowledge': the model should know the facts in the corpus; "
                      "'style': it should write the way the corpus does; 'both': both are measured "
                      "(and the fine-tune with RAG too).", "knowledge", choices=GOALS)
    qa: str | None = _help("JSONL file of {\"question\", \"answer\"[, \"source\"][, \"split\"]} pairs; a "
                           "seeded share is held out for evaluation and never trained on (or, when every "
                           "pair has \"split\": \"train\" or \"eval\", the file's own split).", None,
                           metavar="QA_JSONL")
    out: str | None = _help("Run folder for the report, index, adapter and log "
                            "(default: runs/<corpus name>-<time>).", None, metavar="RUN_DIR")
    base_model: str = _help("Causal LM to adapt: a hub id or a local folder.", DEFAULT_BASE_MODEL, metavar="ID_OR_PATH")
    embedding_model: str = _help("sentence-transformers model for retrieval: a hub id or a local folder.",
                                 DEFAULT_EMBEDDING_MODEL, metavar="ID_OR_PATH")
    budget_minutes: float = _help("Wall-clock cap for the LoRA fine-tune, in minutes.", 10.0, metavar="MIN")
    max_minutes: float | None = _help("Wall-clock cap for the whole run, in minutes: when the estimate made "
                                      "before the slow stages is over it, every arm answers the same seeded "
                                      "subset of the held-out questions (at least 20), the fine-tune's budget "
                                      "shrinks to fit, and the report says so.", None, metavar="MIN")
    device: str = _help("Where models run: auto, cpu, cuda or mps.", "auto", choices=DEVICES)
    seed: int = _help("Seed for the eval split, training and sampling.", 0)
    offline_fallback: bool = _help("When the base model cannot be had, use a small local model "
                                   "instead of stopping (its quality figures are then flagged).", False)
    eval_fraction: float = _help("Share of the QA pairs (or, for style without QA, of the documents) "
                                 "held out for evaluation.", 0.5, metavar="F")
    max_eval: int = _help("At most this many held-out questions or documents are scored.", 100, metavar="N")
    top_k: int = _help("Passages retrieved per question.", 3, metavar="K")
    chunk_size: int | None = _help("Chunk length in embedding-model tokens (default: what the "
                                   "embedding model reads at once, at most 128, which suits a small "
                                   "model's reading).", None, metavar="TOKENS")
    chunk_overlap: int = _help("Tokens shared by neighbouring chunks.", 32, metavar="TOKENS")
    chroma_url: str | None = _help("URL of a Chroma server (chroma run --path DIR), its token if it wants one "
                                   "in $ADVISOR_CHROMA_TOKEN; default: an embedded store in the run folder.", None,
                                   metavar="URL")
    tune_embeddings: str = _help("Also measure RAG with the embedding model tuned on the training side "
                                 "(question-like text and the passage that answers it, a contrastive loss): "
                                 "'auto' when retrieval misses the passage of over 1 in 20 training-side "
                                 "questions, 'always' or 'never'.", "auto", choices=TUNE_EMBEDDINGS)
    embedding_budget_minutes: float = _help("Wall-clock cap for tuning the embedding model, in minutes "
                                            "(re-indexing with it comes on top).", 2.0, metavar="MIN")
    feedback_ratings: str | None = _help("A JSONL file of rated answers ({\"question\", \"answer\", \"good\"}: "
                                         "true or false) to train the fine-tune further on with KTO, measured "
                                         "as one more arm; its questions are left out of the held-out set. "
                                         "`advisor tune RUN_DIR --from-feedback` writes one from a run's "
                                         "ratings.", None, metavar="FILE")
    feedback_budget_minutes: float = _help("Wall-clock cap for training on the ratings, in minutes.", 2.0,
                                           metavar="MIN")
    feedback_learning_rate: float = _help("Learning rate of the LoRA trained on the ratings (KTO).", 5e-5,
                                          metavar="LR")
    lora_rank: int = _help("LoRA rank r.", 8, metavar="R")
    lora_alpha: int = _help("LoRA scaling alpha.", 16, metavar="ALPHA")
    lora_targets: str = _help("Layers LoRA adapts: 'all-linear' (every linear layer but the output "
                              "head, as QLoRA recommends), 'auto' (peft's default for the architecture, "
                              "often attention only), or comma-separated module names.", "all-linear",
                              metavar="MODULES")
    learning_rate: float = _help("LoRA learning rate.", 5e-4, metavar="LR")
    epochs: float = _help("Passes over the training data (the time budget may stop it sooner).", 3.0, metavar="N")
    max_train_steps: int | None = _help("Stop training after this many optimizer steps.", None, metavar="N")
    min_train_steps: int = _help("Small data sets get more passes, up to at least this many optimizer "
                                 "steps (the time budget still applies).", 100, metavar="N")
    batch_size: int = _help("Training examples per step.", 4, metavar="N")
    processes: int = _help("Processes the LoRA fine-tune trains on (DDP, started with torchrun: one per GPU, or "
                           "several on a CPU), sharing each batch, which must divide --batch-size; the rest of the "
                           "run stays in one process.", 1, metavar="N")
    checkpoint_every: int = _help("Save a training checkpoint every this many optimizer steps, so that an "
                                  "interrupted run (advisor run --resume) goes on from the last one.", 10,
                                  metavar="STEPS")
    checkpoint_minutes: float = _help("...but not within this many minutes of the last checkpoint (a checkpoint "
                                      "costs several fast steps; 0: at every --checkpoint-every steps).", 1.0,
                                      metavar="MIN")
    precision: str = _help("Training arithmetic: 'auto' (bfloat16 where the hardware computes it natively: "
                           "recent GPUs, and CPUs with AVX-512 BF16 or AMX for models of 20M parameters or more; "
                           "else fp32), 'fp32' or 'bf16'.",
                           "auto", choices=PRECISIONS)
    full_context: bool = _help("Also measure the whole training corpus in the prompt, when it fits the base "
                               "model's context window (then neither an index nor training may be needed).", True,
                               switch_off=("--no-full-context",
                                           "Do not measure the whole corpus in the prompt, even when it fits."))
    augment: bool = _help("Knowledge fine-tune: before training, restate each fact of the training documents "
                          "in several forms (fill-in-the-blank and sentence-continuation prompts worded unlike "
                          "the held-out probes, and each document with its sentences reordered), as facts seen "
                          "in one form are hard to extract (Allen-Zhu and Li 2023); nothing is made from a "
                          "held-out item.", True,
                          switch_off=("--no-augment", "Train the knowledge fine-tune on the documents as written "
                                                      "(and the QA file's training pairs) only."))
    augment_model: str | None = _help("With --augment: the chat model that restates training facts in other words "
                                      "(hub id or folder; default: the base model, when it has a chat template; "
                                      "'none': no model paraphrases). Each paraphrase is kept only if it holds the "
                                      "fact's answer, speaks of the same things and is not the sentence again.",
                                      None, metavar="ID_OR_PATH")
    paraphrase_minutes: float = _help("Wall-clock cap for the model's paraphrases, in minutes (a first batch that "
                                      "fails the checks stops it at once).", 1.0, metavar="MIN")
    finetune_rag: bool = _help("Also measure the fine-tune answering with retrieved passages (fine-tune + "
                               "RAG), which can add up (Balaguer et al. 2024).", False)
    max_seq_len: int = _help("Longest training example, in base-model tokens.", 256, metavar="TOKENS")
    max_new_tokens: int = _help("Most tokens generated per answer.", 32, metavar="TOKENS")
    format_regex: str | None = _help("A regular expression the output must match, scored as format_match and "
                                     "read first: each answer in full (with a QA file or probes), or each "
                                     "complete line an arm writes to continue a held-out document (style).", None,
                                     metavar="REGEX")
    model_written_questions: bool = _help("Without a QA file: the base model (when it has a chat template) "
                                          "writes the probe questions from corpus sentences instead of "
                                          "fill-in-the-blank ones; each is checked, marked as model-written, "
                                          "and the time it took is shown.", False)
    reference_text: str | None = _help("Text file of general text the model should keep knowing "
                                       "(paragraphs separated by blank lines); its perplexity before and "
                                       "after the fine-tune measures forgetting (default: the general "
                                       "text the advisor ships, advisor/corpus/reference_text.md).", None,
                                       metavar="FILE")
    forgetting: bool = _help("Measure forgetting on the reference text (--no-forgetting skips it).", True,
                             switch_off=("--no-forgetting", "Do not measure forgetting on a reference text."))
    price_per_hour: float | None = _help("USD per hour of the hardware used (default: the dated "
                                         "table, advisor/measure/prices.toml).", None, metavar="USD")
    prices: str | None = _help("A TOML price table to use instead of the shipped one (same layout as "
                               "advisor/measure/prices.toml).", None, metavar="TOML")
    project_to: str | None = _help("A larger base model (hub id or folder with config.json) to project "
                                   "the fine-tune's time, memory and cost to (default: a 7B example).", None,
                                   metavar="ID_OR_PATH")
    constraints: Constraints = _help("What you need besides quality: how often the data changes, "
                                     "sources, latency, budgets, volume, privacy.", Constraints)

    def __post_init__(self) -> None:
        if isinstance(self.constraints, dict):  # from JSON or TOML
            self.constraints = Constraints.from_dict(self.constraints)
        if self.goal not in GOALS:
            raise ConfigError(f"goal must be one of {', '.join(GOALS)}, not {self.goal!r}")
        if self.device not in DEVICES:
            raise ConfigError(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        if not self.corpus:
            raise ConfigError("a corpus folder is required")
        if not 0 < self.eval_fraction < 1:
            raise ConfigError(f"eval_fraction must be between 0 and 1, not {self.eval_fraction}")
        if self.budget_minutes <= 0:
            raise ConfigError(f"budget_minutes must be positive, not {self.budget_minutes}")
        if self.embedding_budget_minutes <= 0:
            raise ConfigError(f"embedding_budget_minutes must be positive, not {self.embedding_budget_minutes}")
        if self.paraphrase_minutes < 0:
            raise ConfigError(f"paraphrase_minutes must not be negative, not {self.paraphrase_minutes}")
        if self.checkpoint_minutes < 0:
            raise ConfigError(f"checkpoint_minutes must not be negative, not {self.checkpoint_minutes}")
        if self.feedback_budget_minutes <= 0:
            raise ConfigError(f"feedback_budget_minutes must be positive, not {self.feedback_budget_minutes}")
        if self.tune_embeddings not in TUNE_EMBEDDINGS:
            raise ConfigError(f"tune_embeddings must be one of {', '.join(TUNE_EMBEDDINGS)}, "
                              f"not {self.tune_embeddings!r}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ConfigError(f"max_minutes must be positive, not {self.max_minutes}")
        for name in ("top_k", "max_eval", "lora_rank", "lora_alpha", "batch_size", "max_seq_len",
                     "max_new_tokens", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.processes < 1:
            raise ConfigError(f"processes must be at least 1, not {self.processes}")
        if self.batch_size % self.processes:
            multiple = self.batch_size + self.processes - self.batch_size % self.processes
            raise ConfigError(f"the {self.processes} training processes share each batch of {self.batch_size} "
                              "examples evenly, so batch_size must be a multiple of processes",
                              hint=f"for example --batch-size {multiple}")
        if self.chunk_size is not None and self.chunk_size < 16:
            raise ConfigError(f"chunk_size must be at least 16 tokens, not {self.chunk_size}")
        if self.chunk_overlap < 0 or (self.chunk_size and self.chunk_overlap >= self.chunk_size):
            raise ConfigError(f"chunk_overlap must be non-negative and below chunk_size, "
                              f"not {self.chunk_overlap}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if not self.lora_targets.strip():
            raise ConfigError("lora_targets must be 'all-linear', 'auto' or module names")
        if self.learning_rate <= 0 or self.epochs <= 0 or self.feedback_learning_rate <= 0:
            raise ConfigError("learning_rate, feedback_learning_rate and epochs must be positive")
        if self.format_regex is not None:
            import re

            try:
                re.compile(self.format_regex)
            except re.error as exc:
                raise ConfigError(f"format_regex {self.format_regex!r} is not a valid regular "
                                  f"expression: {exc}") from None
        if self.model_written_questions and (self.qa or self.goal == "style"):
            raise ConfigError("model_written_questions makes knowledge probes when there is no QA file; "
                              + ("with a QA file its questions are used" if self.qa else
                                 "goal 'style' asks no questions (it holds out documents)"),
                              hint="leave out --model-written-questions")

    def may_tune_embeddings(self) -> bool:
        """The tuned-embeddings arm is planned ('auto' measures it only where retrieval has room to improve)."""
        return self.tune_embeddings != "never"

    def measures_finetune_rag(self) -> bool:
        """The fine-tune answering with retrieved passages is measured when asked for, and for goal 'both'."""
        return self.finetune_rag or self.goal == "both"

    def lora_target_modules(self) -> list[str] | str | None:
        """What peft's LoraConfig takes: None for its default, "all-linear", or a list of names."""
        if self.lora_targets in ("auto", "all-linear"):
            return None if self.lora_targets == "auto" else "all-linear"
        return [name.strip() for name in self.lora_targets.split(",") if name.strip()]

    def lora_settings(self):
        """The fine-tune's settings; their every field goes into the training cache key."""
        from finetune.train import LoraSettings  # only runs that train need it

        return LoraSettings(rank=self.lora_rank, alpha=self.lora_alpha, learning_rate=self.learning_rate,
                            epochs=self.epochs, max_steps=self.max_train_steps, min_steps=self.min_train_steps,
                            batch_size=self.batch_size, seed=self.seed, target_modules=self.lora_target_modules(),
                            precision=self.precision)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AdvisorConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def from_run_folder(cls, saved: dict[str, Any], folder: str | Path) -> "AdvisorConfig":
        """The settings of the run in `folder` (its config.json, `saved`), to resume it there: a setting added
        since the run was made keeps the behaviour the run was made with."""
        return cls.from_dict({**SETTINGS_BEFORE_THEY_EXISTED, **saved, "out": str(folder)})

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> "AdvisorConfig":
        """Settings from a TOML file (top-level keys as in config.json, a [constraints] table), with
        `overrides` (say, from the command line) taking precedence, key by key."""
        return cls.from_dict(options_from_toml(path, **overrides))

    @classmethod
    def help_text(cls, name: str) -> str:
        return next(f.metadata["help"] for f in dataclasses.fields(cls) if f.name == name)

    @classmethod
    def default(cls, name: str) -> Any:
        """The default of one option (a config cannot be made without a corpus)."""
        return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def options_from_toml(path: str | Path, **overrides: Any) -> dict[str, Any]:
    """The options of a TOML settings file merged with `overrides`, key by key (constraints too), unchecked."""
    import tomllib

    try:
        data = tomllib.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML ({exc})") from None
    constraints = {**data.pop("constraints", {}), **overrides.pop("constraints", {})}
    return {**data, **overrides, "constraints": constraints}
