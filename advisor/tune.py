"""`advisor tune RUN_DIR --from-feedback`: a finished run's fine-tune trained further on people's ratings, measured in
a new run folder beside the old one on the held-out questions no rating trained on."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from advisor.config import AdvisorConfig
from advisor.errors import ConfigError
from advisor.files import write_atomic
from advisor.measure.feedback import (FEEDBACK_FILE, append_feedback, rated_answers, read_feedback,
                                      training_questions)
from advisor.stages.context import CancelSignal, ProgressCallback
from advisor.stages.feedback import RATED_FILE, RatedQuestion
from advisor.verdict.report import Report

# What the new run folder does not take from the old one: its report and ratings (the new run writes its own),
# its log, lock and time plan (the new run, with its smaller held-out set, estimates again).
NOT_COPIED = ("report.json", "report.md", "report.html", FEEDBACK_FILE, "advisor.log", ".advisor.lock", "plan.json",
              "eval_set.json")


@dataclasses.dataclass(frozen=True)
class FeedbackSplit:
    """The run's ratings halved by question: those that train, and those kept as evidence."""

    training: list[RatedQuestion]
    measuring: list  # the Rating and Preference entries on questions that stay held out
    questions: int  # rated questions in all


def split_feedback(run_dir: Path, report: Report, seed: int) -> FeedbackSplit:
    """The run's ratings (feedback.jsonl), each question's on the side measure.feedback.training_questions puts it."""
    entries, _ = read_feedback(run_dir / FEEDBACK_FILE)
    answers = {(arm, sample.get("question")): sample.get("answer", "")
               for arm, evidence in report.arms.items() for sample in evidence.details.get("samples", [])}
    questions = training_questions([entry.question for entry in entries], seed)
    training = [entry for entry in entries if entry.question in questions]
    measuring = [entry for entry in entries if entry.question not in questions]
    rated = rated_answers(training, lambda arm, question: answers.get((arm, question), ""))
    return FeedbackSplit([RatedQuestion(*item) for item in rated], measuring,
                         len({entry.question for entry in entries}))


def tune_from_feedback(run_dir: str | Path, *, out: str | Path | None = None, budget_minutes: float | None = None,
                       learning_rate: float | None = None, on_progress: ProgressCallback | None = None,
                       cancel: CancelSignal | None = None) -> Report:
    """Trains the fine-tune of the finished run in `run_dir` further on its ratings (KTO) and measures it as one
    more arm, with every other arm, in a new run folder (`out`, default RUN_DIR-feedback) whose report is the new
    one (see feedback_run). Running the same command again resumes it."""
    from advisor.api import Advisor

    config, about = feedback_run(run_dir, out=out, budget_minutes=budget_minutes, learning_rate=learning_rate)
    return Advisor(config, on_progress, about, cancel).run()


def feedback_run(run_dir: str | Path, *, out: str | Path | None = None, budget_minutes: float | None = None,
                 learning_rate: float | None = None) -> tuple[AdvisorConfig, list[str]]:
    """The settings and the report's opening lines of the run that trains the fine-tune of `run_dir` on its
    ratings, with its folder made ready. Half the rated questions (in the order of a seeded hash of each) give
    the training ratings; they leave the held-out set, so no arm is measured on a question whose answers
    trained; the other half's ratings stay as evidence in the new report. The new folder starts from a copy of
    the old one's files, so what did not change (the index, the fine-tune) is reused. Too few ratings, or a
    folder without a finished run, is a ConfigError saying what to do."""
    run_dir = Path(run_dir).expanduser()
    try:
        report = Report.load(run_dir / "report.json")
        saved = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{str(run_dir)!r} holds no finished run ({exc})",
                          hint="give the folder of a run that wrote report.json") from None
    config = AdvisorConfig.from_run_folder(saved, run_dir)
    if config.feedback_ratings:
        raise ConfigError(f"the run in {str(run_dir)!r} was itself trained on ratings",
                          hint="tune the run it came from, with all its ratings")
    split = split_feedback(run_dir, report, config.seed)
    target = Path(out).expanduser() if out else run_dir.with_name(run_dir.name + "-feedback")
    _prepare(run_dir, target, split)
    config = dataclasses.replace(config, out=str(target), feedback_ratings=str(target / RATED_FILE),
                                 feedback_budget_minutes=budget_minutes or config.feedback_budget_minutes,
                                 feedback_learning_rate=learning_rate or config.feedback_learning_rate)
    good = sum(item.good for item in split.training)
    about = [line for line in report.about if not line.startswith("Trained on people's ratings")] + [
        f"Trained on people's ratings: the fine-tune of {run_dir} trained further on {len(split.training)} rated "
        f"answers ({good} good, {len(split.training) - good} bad) to half of the {split.questions} rated "
        "questions (chosen by a seeded hash of each question); those questions are left out of the held-out "
        "set, and the other ratings stay as evidence."]
    return config, about


def _prepare(source: Path, target: Path, split: FeedbackSplit) -> None:
    """The new run folder: the old one's files but NOT_COPIED (a folder already there is resumed as it is), the
    training ratings as RATED_FILE, and the measuring ratings as its feedback.jsonl."""
    from finetune.feedback import FeedbackUnavailable, check_enough

    try:
        check_enough([item.good for item in split.training])
    except FeedbackUnavailable as exc:
        raise ConfigError(
            f"{exc}: of the {split.questions} rated question(s) in {source / FEEDBACK_FILE}, about half train "
            "(the other half stays held out, to measure the result fairly)",
            hint="rate more answers (the app's results screen: u, d, p; or advisor feedback RUN_DIR --add FILE), "
                 "then run this again") from None
    if target.resolve() == source.resolve():
        raise ConfigError("the tuned run needs a folder of its own", hint="pass --out another folder")
    if not (target / "config.json").is_file():
        shutil.copytree(source, target, ignore=lambda folder, names: [n for n in names if n in NOT_COPIED
                                                                       and Path(folder) == source],
                        dirs_exist_ok=True)
        if split.measuring:
            append_feedback(target / FEEDBACK_FILE, split.measuring)
    write_atomic(target / RATED_FILE, "".join(json.dumps(item.to_dict(), ensure_ascii=False) + "\n"
                                              for item in split.training))
