"""Runs the advisor where the right verdict is known, and checks its measurements against the literature."""

from __future__ import annotations

import operator
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

SHIPPED_MODEL = Path(__file__).parent / "model"
WORLD_SEED = 0
ABOUT_WORLD = [
    "This run uses the calibration world, a generated domain with a known right answer: short "
    "biographies of 60 invented people (birth city, birth year, university, field, employer) that "
    "the base model never saw.",
    "The base model is the project's own tiny Llama (about 1M parameters), pretrained on other "
    "people of the same world; it knows only the world's vocabulary, so its figures say nothing "
    "about real models or real text.",
]


@dataclass(frozen=True)
class Expectation:
    arm: str
    metric: str
    compare: str  # ">=" or "<="
    threshold: float
    why: str

    def holds(self, value: float | None) -> bool:
        ops = {">=": operator.ge, "<=": operator.le}
        return value is not None and ops[self.compare](value, self.threshold)


# The tiny model needs a higher LoRA rate than the product default (5e-4, tuned for billion-parameter
# models); the same rate serves both tasks, so neither fine-tune is tuned against the other.
CALIBRATION_OPTIONS = {"learning_rate": 3e-3}


@dataclass(frozen=True)
class Task:
    name: str
    goal: str
    right_choice: str
    expectations: tuple[Expectation, ...]
    options: dict = field(default_factory=dict)


TASKS = (
    Task("knowledge", "knowledge", "rag", (
        Expectation("base", "exact_match", "<=", 0.15,
                    "closed book on unseen people: near chance (about 0.04)"),
        Expectation("rag", "exact_match", ">=", 0.30,
                    "retrieval puts the biography in the prompt and the model reads the answer from it "
                    "(the shipped model reads about 40% of answers right; see its model card)"),
        Expectation("finetune", "exact_match", "<=", 0.35,
                    "facts seen once in fine-tuning are hard to extract (Allen-Zhu and Li 2023; Ovadia et al. 2023)"),
    )),
    Task("style", "style", "finetune", (
        Expectation("base", "format_match", "<=", 0.10, "the base model has never seen the format"),
        Expectation("rag", "format_match", "<=", 0.50, "examples in the prompt rarely hold a format"),
        Expectation("finetune", "format_match", ">=", 0.80, "a format is what fine-tuning learns best"),
    )),
)


@dataclass
class CalibrationRow:
    task: str
    arm: str
    metric: str
    measured: float | None
    expected: str
    why: str
    ok: bool


@dataclass
class CalibrationResult:
    rows: list[CalibrationRow]
    verdicts: dict[str, dict]  # task -> {"choice", "right", "ok", "confidence", "report"}
    seconds: float

    @property
    def verdicts_ok(self) -> bool:
        return all(v["ok"] for v in self.verdicts.values())

    @classmethod
    def combine(cls, results: list["CalibrationResult"]) -> "CalibrationResult":
        """One result from runs of separate tasks."""
        return cls([row for r in results for row in r.rows], {k: v for r in results for k, v in r.verdicts.items()},
                   sum(r.seconds for r in results))

    def to_dict(self) -> dict:
        return {"rows": [asdict(r) for r in self.rows], "verdicts": self.verdicts, "seconds": self.seconds,
                "verdicts_ok": self.verdicts_ok}


def write_task(task: str, out_dir: Path, world_seed: int = WORLD_SEED) -> tuple[Path, Path, dict]:
    """Writes one calibration task; returns (corpus folder, QA file, advisor options)."""
    from advisor.calibration.world import (STYLE_FORMAT_REGEX, biography, build_world, write_knowledge_task,
                                           write_style_task)

    world = build_world(world_seed)
    options = {}
    if task == "knowledge":
        write_knowledge_task(world, out_dir)
    else:
        write_style_task(world, out_dir)
        options["format_regex"] = STYLE_FORMAT_REGEX
    # Group A is what the base model knows: its perplexity before and after LoRA measures forgetting.
    rng = random.Random(f"reference-{world_seed}")
    reference = out_dir / "reference.txt"
    reference.write_text("\n\n".join(biography(p, rng) for p in world.group_a[:40]) + "\n", encoding="utf-8")
    options["reference_text"] = str(reference)
    return out_dir / "corpus", out_dir / "qa.jsonl", options


def advise_on_task(task: Task, out_dir: Path, *, model: str | Path = SHIPPED_MODEL, embedding_model: str | None = None,
                   about: list[str] | None = None, **overrides):
    """Writes the task's data under out_dir/data and runs the advisor on it into out_dir/run; returns the Report."""
    from advisor.api import advise
    from advisor.config import DEFAULT_EMBEDDING_MODEL

    corpus, qa, options = write_task(task.name, out_dir / "data")
    return advise(corpus, goal=task.goal, qa=qa, base_model=str(model),
                  embedding_model=embedding_model or DEFAULT_EMBEDDING_MODEL, out=str(out_dir / "run"),
                  about=about or ABOUT_WORLD, **{**CALIBRATION_OPTIONS, **options, **task.options, **overrides})


def run_calibration(out_dir: str | Path, *, model: str | Path = SHIPPED_MODEL, embedding_model: str | None = None,
                    seed: int = 0, device: str = "cpu", tasks: tuple[str, ...] = ("knowledge", "style"),
                    on_progress=None, **overrides) -> CalibrationResult:
    """Runs the advisor on each task with the shipped calibration model; compares with expectations."""
    start = time.perf_counter()
    out_dir = Path(out_dir)
    rows, verdicts = [], {}
    for task in (t for t in TASKS if t.name in tasks):
        report = advise_on_task(task, out_dir / task.name, model=model, embedding_model=embedding_model,
                                seed=seed, device=device, on_progress=on_progress, **overrides)
        for exp in task.expectations:
            entry = report.arms[exp.arm].quality.get(exp.metric)
            value = entry["value"] if entry else None
            rows.append(CalibrationRow(task.name, exp.arm, exp.metric, value,
                                       f"{exp.compare} {exp.threshold:g}", exp.why, exp.holds(value)))
        choice = report.recommendation.choice
        verdicts[task.name] = {"choice": choice, "right": task.right_choice, "ok": choice == task.right_choice,
                               "confidence": report.recommendation.confidence,
                               "report": str(Path(report.run_dir) / "report.md")}
    return CalibrationResult(rows, verdicts, time.perf_counter() - start)
