"""Runs the advisor where the right verdict is known, and checks its measurements against the literature."""

from __future__ import annotations

import operator
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from advisor.calibration.world import FITS_PEOPLE

SHIPPED_MODEL = Path(__file__).parent / "model"
WORLD_SEED = 0
ABOUT_WORLD = [
    "This run uses the calibration world, a generated domain with a known right answer: short "
    "biographies of invented people (birth city, birth year, university, field, employer).",
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
        ops = {">=": operator.ge, "<=": operator.le, ">": operator.gt}
        return value is not None and ops[self.compare](value, self.threshold)

    def measured(self, report) -> float | None:
        """The arm's figure in `report`: a quality metric, or "p95_over_finetune", its p95 latency over the
        fine-tune's."""
        arm = report.arms.get(self.arm)
        if arm is None:
            return None
        if self.metric == "p95_over_finetune":
            finetune = report.arms.get("finetune")
            return arm.latency_ms.get("p95") / finetune.latency_ms["p95"] if finetune else None
        entry = arm.quality.get(self.metric)
        return entry["value"] if entry else None


# The tiny model needs a higher LoRA rate than the product default (5e-4, tuned for billion-parameter
# models) to take in facts: at 5e-4 the paraphrased knowledge fine-tune reached 0.11 exact match, at 3e-3
# 0.87 (0.72 since batches are grouped by length). The same rate serves every task, so no fine-tune is tuned against another; it gives the knowledge
# fine-tunes their best chance, at the price of more forgetting (the style fine-tune's reference-text
# perplexity: 1.56 before, 2.34 after at 5e-4, 33.8 after at 3e-3, where it holds the format just as well),
# which the reports state.
# The embeddings are tuned in one task of their own (knowledge-tuned-embeddings): everywhere else the arm would add
# minutes of training to every knowledge task, and the verdicts are about the other arms.
CALIBRATION_OPTIONS = {"learning_rate": 3e-3, "tune_embeddings": "never"}


@dataclass(frozen=True)
class Task:
    name: str
    goal: str
    right_choice: str
    expectations: tuple[Expectation, ...]
    options: dict = field(default_factory=dict)
    corpus_kind: str = "one"  # for knowledge tasks: see world.KNOWLEDGE_CORPORA
    about: str = ""  # what sets the task apart, for the table's heading
    data: str = ""  # which world writer makes its files (see write_task); default: the goal's
    min_confidence: str = "medium"  # the least confidence a right verdict must have
    # The task whose run this one decides again, with a latency limit between the closed-book fine-tune's p95
    # and RAG's. The limit comes from the run's own timings, not from a factor fixed in advance: how much
    # slower retrieval is than closed-book answering differs from machine to machine (on a CI machine, RAG's
    # p95 came under 2.5 times the closed-book median that was 3.4 times over it here), while that it is
    # slower does not (it embeds, searches and reads a longer prompt on top of the same generation).
    redecides: str = ""
    why_right: str = ""  # why the right verdict is right, by construction
    slow: bool = False  # minutes of training more than the rest: `advisor calibrate` runs it, the test suite not

    @property
    def prior_choice(self) -> str:
        """What the published default for the goal would say, measuring nothing."""
        return PRIOR_CHOICE[self.goal]


# The verdict each goal's published prior gives (advisor.verdict.decide.GOAL_PRIOR; goal both combines the two).
PRIOR_CHOICE = {"knowledge": "rag", "style": "finetune", "both": "both"}


# The fine-tune on the documents as written (and the QA file's training pairs): the published findings the
# knowledge tasks reproduce are about plain fine-tuning; knowledge-augmented measures --augment on the same data.
PLAIN = {"augment": False}

# Five copies of every biography, 10 passes: each fact is seen 50 times in the fine-tune, with the same
# steps and tokens whether the copies are identical or paraphrased.
REPETITION_OPTIONS = {"epochs": 10, **PLAIN}


TASKS = (
    Task("knowledge", "knowledge", "rag", (
        Expectation("base", "exact_match", "<=", 0.15,
                    "closed book on unseen people: near chance (about 0.04)"),
        Expectation("rag", "exact_match", ">=", 0.30,
                    "retrieval puts the biography in the prompt and the model reads the answer from it "
                    "(the shipped model reads about 40% of answers right; see its model card)"),
        Expectation("finetune", "exact_match", "<=", 0.35,
                    "facts seen once in fine-tuning are hard to extract (Allen-Zhu and Li 2023; Ovadia et al. 2023)"),
    ), options=PLAIN, about="one biography per person, 60 people the base model never saw",
        why_right="retrieval puts each new fact in the prompt; a fine-tune on one biography per person cannot "
                  "make them extractable"),
    Task("knowledge-augmented", "knowledge", "finetune", (
        Expectation("rag", "exact_match", ">=", 0.30, "the knowledge task's data and questions: RAG reads as there"),
        Expectation("finetune", "exact_match", ">=", 0.50,
                    "each fact restated (a fill-in-the-blank, a sentence to continue, two reordered biographies), "
                    "ten passes: extractable (Allen-Zhu and Li 2023; Jan et al. 2025)"),
    ), options={"epochs": 10, "budget_minutes": 20}, slow=True,
        about="the knowledge task's data, its fine-tune trained on each fact restated (--augment), 10 passes",
        why_right="the fine-tune, trained on each fact restated, answers closed-book more questions than retrieval, "
                  "whose passages the tiny model reads right about 40% of the time, and no constraint argues "
                  "against it"),
    Task("knowledge-tuned-embeddings", "knowledge", "rag", (
        Expectation("rag", "retrieval_hit_rate", ">=", 0.95, "plain retrieval finds every held-out question's "
                    "biography (one short biography per person)"),
        Expectation("rag_tuned", "retrieval_hit_rate", ">=", 0.95, "the tuned embeddings find them too"),
    ), options={**PLAIN, "tune_embeddings": "always"}, slow=True,
        about="the knowledge task's data, with the embedding model also tuned on the training side "
              "(--tune-embeddings always)",
        why_right="plain retrieval already finds every question's biography, so embeddings tuned on the corpus "
                  "have nothing to add that is worth training and keeping them"),
    Task("style", "style", "finetune", (
        Expectation("base", "format_match", "<=", 0.10, "the base model has never seen the format"),
        Expectation("rag", "format_match", "<=", 0.50, "examples in the prompt rarely hold a format"),
        Expectation("finetune", "format_match", ">=", 0.80, "a format is what fine-tuning learns best"),
    ), about="a new answer format for known facts",
        why_right="the facts are known; only the format is new, and a format is what a fine-tune learns"),
    Task("knowledge-repeated", "knowledge", "rag", (
        Expectation("finetune", "exact_match", "<=", 0.35,
                    "the same biography seen 50 times is memorized, not made extractable (Allen-Zhu and Li 2023)"),
    ), options=REPETITION_OPTIONS, corpus_kind="repeated",
        about="the same biography 5 times per person, 10 fine-tuning passes",
        why_right="repetition memorizes without making facts extractable: retrieval still carries them"),
    Task("knowledge-paraphrased", "knowledge", "rag", (
        Expectation("finetune", "exact_match", ">=", 0.50,
                    "five paraphrases, 50 sightings of each fact in all, make facts extractable "
                    "(Allen-Zhu and Li 2023)"),
    ), options=REPETITION_OPTIONS, corpus_kind="paraphrased",
        about="5 paraphrased biographies per person, 10 fine-tuning passes",
        why_right="the fine-tune learns most facts, but retrieval reads them all from the prompt, with no "
                  "constraint against it"),
    Task("known", "knowledge", "neither", (
        Expectation("base", "exact_match", ">=", 0.90,
                    "pretraining taught the base model these people's facts from their biographies alone"),
        Expectation("rag", "exact_match", "<=", 0.70,
                    "three biographies in the prompt add nothing it does not know, and distract it"),
        Expectation("finetune", "exact_match", ">=", 0.80, "training again on what it knows teaches nothing new"),
    ), data="known", about="biographies the base model was pretrained on",
        why_right="the base model already answers closed-book: neither retrieval nor a fine-tune is worth its cost"),
    Task("fits", "knowledge", "full_context", (
        Expectation("base", "exact_match", "<=", 0.15, "closed book on unseen people"),
        Expectation("full_context", "exact_match", ">=", 0.20,
                    "the whole corpus (three biographies) in the prompt: the model reads the answer from it"),
        Expectation("rag", "exact_match", ">=", 0.20, "RAG retrieves the same three biographies"),
        Expectation("finetune", "exact_match", "<=", 0.15,
                    "three passes over one biography per person do not make facts extractable (Allen-Zhu and Li "
                    "2023)"),
    ), options={"min_train_steps": 1, **PLAIN}, data="fits",
        about=f"a corpus of {FITS_PEOPLE} biographies, no more than RAG retrieves, 3 fine-tuning passes",
        why_right="the whole corpus fits the prompt and RAG's passages are that same corpus: the whole corpus "
                  "answers as well with no index to build or keep"),
    Task("both", "both", "both", (
        Expectation("rag", "answer_containment", "<=", 0.10, "retrieval brings the facts but not the answer format"),
        Expectation("finetune", "answer_containment", "<=", 0.15,
                    "the fine-tune learns the format but hardly the facts, each seen once"),
        Expectation("finetune_rag", "answer_containment", ">=", 0.25,
                    "the fine-tune answering with retrieved passages: the format and the facts"),
    ), options={"top_k": 1, "epochs": 10}, data="both",
        about="new facts to be answered in a new format, one retrieved passage per question, 10 fine-tuning passes",
        why_right="retrieval carries the facts and a fine-tune the format: the two together"),
    Task("constrained", "knowledge", "finetune", (
        Expectation("finetune", "exact_match", ">=", 0.50,
                    "five paraphrases, 50 sightings of each fact, make facts extractable (Allen-Zhu and Li 2023)"),
        Expectation("rag", "p95_over_finetune", ">", 1.0,
                    "RAG embeds each question, searches the index and reads a ten times longer prompt before "
                    "answering: its p95 latency is above the closed-book fine-tune's (by 3.3 to 9.5 times on "
                    "2 cores; by less where embedding is cheap)"),
    ), redecides="knowledge-paraphrased",
        about="the paraphrased run with a latency limit half-way (geometric mean) between the fine-tune's and "
              "RAG's p95 answer times measured in it",
        why_right="the fine-tune has learned the facts and meets the latency limit, which every option that "
                  "retrieves misses"),
)


@dataclass(frozen=True)
class Finding:
    """A published result, checked as a paired difference between two arms on the same held-out questions."""

    name: str
    better: tuple[str, str]  # (task, arm)
    worse: tuple[str, str]
    metric: str
    min_improvement: float
    why: str


FINDINGS = (
    Finding("retrieval beats fine-tuning for new facts", ("knowledge", "rag"), ("knowledge", "finetune"),
            "exact_match", 0.15, "Ovadia et al. 2023: RAG far ahead of unsupervised fine-tuning on new knowledge"),
    Finding("paraphrases make facts extractable", ("knowledge-paraphrased", "finetune"),
            ("knowledge-repeated", "finetune"), "exact_match", 0.30,
            "Allen-Zhu and Li 2023: at the same number of sightings, varied wording is what lets "
            "questions reach a fact"),
    Finding("restated facts are extractable", ("knowledge-augmented", "finetune"), ("knowledge", "finetune"),
            "exact_match", 0.30,
            "Allen-Zhu and Li 2023, Jan et al. 2025: each fact of one biography restated (a fill-in-the-blank, a "
            "sentence to continue, two reorderings) can be asked for, where the biography as written cannot "
            "(the plain fine-tune here has 3 passes; given 10, as the augmented one, it scored 0.08 on the same "
            "questions, 2026-12-03)"),
    Finding("fine-tuning holds a format that examples in the prompt do not", ("style", "finetune"),
            ("style", "rag"), "format_match", 0.50,
            "style and format are what fine-tuning changes best"),
)


@dataclass
class FindingRow:
    name: str
    better: str  # "task/arm"
    worse: str
    metric: str
    improvement: float | None  # None when the two runs did not score the same held-out items
    ci95: list[float] | None
    n: int
    expected: str
    why: str
    ok: bool


def check_findings(reports: dict[str, str]) -> list[FindingRow]:
    """Each Finding whose two tasks were run (`reports`: task -> report.json path), with a paired interval."""
    from advisor.measure.metrics import paired_difference
    from advisor.verdict.report import Report

    loaded = {task: Report.load(path) for task, path in reports.items()}
    rows = []
    for finding in FINDINGS:
        (task_a, arm_a), (task_b, arm_b) = finding.better, finding.worse
        if task_a not in loaded or task_b not in loaded:
            continue
        a = loaded[task_a].arms[arm_a].details.get("scores", {}).get(finding.metric, [])
        b = loaded[task_b].arms[arm_b].details.get("scores", {}).get(finding.metric, [])
        fingerprints = {loaded[task].evaluation.items_fingerprint or None for task in (task_a, task_b)}
        same_items = len(fingerprints) == 1 and None not in fingerprints and len(a) == len(b) > 0
        diff = paired_difference(a, b) if same_items else None
        ok = diff is not None and diff["value"] >= finding.min_improvement and diff["ci95"][0] > 0
        rows.append(FindingRow(finding.name, f"{task_a}/{arm_a}", f"{task_b}/{arm_b}", finding.metric,
                               diff["value"] if diff else None, diff["ci95"] if diff else None,
                               diff["n"] if diff else 0, f">= {finding.min_improvement:+g}",
                               finding.why, ok))
    return rows


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
    findings: list[FindingRow] = field(default_factory=list)

    @property
    def verdicts_ok(self) -> bool:
        return all(v["ok"] for v in self.verdicts.values())

    @classmethod
    def combine(cls, results: list["CalibrationResult"]) -> "CalibrationResult":
        """One result from runs of separate tasks; findings that span them are checked now."""
        verdicts = {k: v for r in results for k, v in r.verdicts.items()}
        return cls([row for r in results for row in r.rows], verdicts, sum(r.seconds for r in results),
                   check_findings(_report_files(verdicts)))

    def to_dict(self) -> dict:
        return {"rows": [asdict(r) for r in self.rows], "findings": [asdict(f) for f in self.findings],
                "verdicts": self.verdicts, "seconds": self.seconds, "verdicts_ok": self.verdicts_ok}


def _report_files(verdicts: dict[str, dict]) -> dict[str, str]:
    return {task: str(Path(v["report"]).with_suffix(".json")) for task, v in verdicts.items()}


def check_verdict(task: Task, recommendation) -> dict:
    """Whether a recommendation is the task's right one, measured (not the goal's default) and at least as
    sure as the task's floor; with the prior's verdict, and whether the measurement overruled it."""
    from advisor.verdict.report import CONFIDENCES  # ordered from least to most sure

    choice, confidence, basis = recommendation.choice, recommendation.confidence, recommendation.basis
    sure = CONFIDENCES.index(confidence) >= CONFIDENCES.index(task.min_confidence)
    return {"choice": choice, "right": task.right_choice, "confidence": confidence, "basis": basis,
            "rule": recommendation.rule, "min_confidence": task.min_confidence, "prior": task.prior_choice,
            "overrules_prior": choice != task.prior_choice,
            "ok": choice == task.right_choice and basis == "measured" and sure}


def write_task(task: Task, out_dir: Path, world_seed: int = WORLD_SEED) -> tuple[Path, Path, dict]:
    """Writes one calibration task; returns (corpus folder, QA file, advisor options)."""
    from advisor.calibration import world as w

    world = w.build_world(world_seed)
    options = {}
    data = task.data or task.goal
    if data == "knowledge":
        w.write_knowledge_task(world, out_dir, task.corpus_kind)
    elif data == "style":
        w.write_style_task(world, out_dir)
        options["format_regex"] = w.STYLE_FORMAT_REGEX
    else:
        {"known": w.write_known_task, "fits": w.write_fits_task, "both": w.write_both_task}[data](world, out_dir)
    # Group A is what the base model knows: its perplexity before and after LoRA measures forgetting.
    rng = random.Random(f"reference-{world_seed}")
    reference = out_dir / "reference.txt"
    reference.write_text("\n\n".join(w.biography(p, rng) for p in world.group_a[:40]) + "\n", encoding="utf-8")
    options["reference_text"] = str(reference)
    return out_dir / "corpus", out_dir / "qa.jsonl", options


def with_latency_limit(report, task: Task, out_dir: Path):
    """`report` decided again with a latency limit half-way (geometric mean) between its fine-tune's and RAG's
    p95 answer times, written to out_dir as the task's own report."""
    import dataclasses
    import math

    from advisor.verdict.decide import recommend_from_report
    from advisor.verdict.render import write_report

    p95 = {name: report.arms[name].latency_ms["p95"] for name in ("finetune", "rag")}
    limit = round(math.sqrt(p95["finetune"] * p95["rag"]), 1)
    config = {**report.config, "constraints": {**(report.config.get("constraints") or {}), "latency_limit_ms": limit}}
    about = [line for line in report.about if not line.startswith("Calibration task ")]
    again = dataclasses.replace(report, config=config, about=[*about, task_about(task)], run_dir=str(out_dir))
    again = dataclasses.replace(again, recommendation=recommend_from_report(again))
    write_report(again, out_dir)
    return again


def advise_on_task(task: Task, out_dir: Path, *, model: str | Path = SHIPPED_MODEL, embedding_model: str | None = None,
                   about: list[str] | None = None, source=None, **overrides):
    """Writes the task's data under out_dir/data and runs the advisor on it into out_dir/run; returns the Report.
    A task that decides another's run again does so on `source` (that run's Report), or runs it first."""
    from advisor.api import advise
    from advisor.config import DEFAULT_EMBEDDING_MODEL

    if task.redecides:
        source = source or advise_on_task(next(t for t in TASKS if t.name == task.redecides), out_dir / "source",
                                          model=model, embedding_model=embedding_model, **overrides)
        return with_latency_limit(source, task, out_dir / "run")
    corpus, qa, options = write_task(task, out_dir / "data")
    return advise(corpus, goal=task.goal, qa=qa, base_model=str(model),
                  embedding_model=embedding_model or DEFAULT_EMBEDDING_MODEL, out=str(out_dir / "run"),
                  about=about or [*ABOUT_WORLD, task_about(task)],
                  **{**CALIBRATION_OPTIONS, **options, **task.options, **overrides})


def task_about(task: Task) -> str:
    """What the task is and why its right verdict is right, for the report's opening lines."""
    return f"Calibration task {task.name}: {task.about}. Right verdict: {task.right_choice}, since {task.why_right}."


def run_calibration(out_dir: str | Path, *, model: str | Path = SHIPPED_MODEL, embedding_model: str | None = None,
                    seed: int = 0, device: str = "cpu", tasks: tuple[str, ...] = tuple(t.name for t in TASKS),
                    on_progress=None, reports: dict | None = None, **overrides) -> CalibrationResult:
    """Runs the advisor on each task with the shipped calibration model; compares with expectations.
    `reports` (task name -> Report) keeps each task's report, so that a task deciding another's run again
    reuses it, also across calls."""
    start = time.perf_counter()
    out_dir = Path(out_dir)
    rows, verdicts = [], {}
    reports = {} if reports is None else reports
    for task in (t for t in TASKS if t.name in tasks):
        report = reports[task.name] = advise_on_task(
            task, out_dir / task.name, model=model, embedding_model=embedding_model, seed=seed, device=device,
            on_progress=on_progress, source=reports.get(task.redecides), **overrides)
        for exp in task.expectations:
            value = exp.measured(report)
            rows.append(CalibrationRow(task.name, exp.arm, exp.metric, value,
                                       f"{exp.compare} {exp.threshold:g}", exp.why, exp.holds(value)))
        verdicts[task.name] = check_verdict(task, report.recommendation) | {
            "report": str(Path(report.run_dir) / "report.md")}
    return CalibrationResult(rows, verdicts, time.perf_counter() - start, check_findings(_report_files(verdicts)))
