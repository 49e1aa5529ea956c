"""What the stages of one run hand each other, filled in as they go."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from advisor.corpus.evalset import EvalSet
from advisor.corpus.loading import Corpus
from advisor.corpus.profile import CorpusProfile
from advisor.corpus.qa import QAPair
from advisor.measure.arms import Arm
from advisor.measure.evaluate import AnswerBook, ArmRun
from advisor.measure.evidence import Forgetting, ModelCheck
from advisor.measure.whole_corpus import WholeCorpusFit
from advisor.stages.index import BuiltIndex
from advisor.stages.models import LoadedModels
from advisor.stages.train import TunedModel


@dataclass
class RunState:
    started: float  # time.perf_counter() when the run began
    corpus: Corpus | None = None  # set once the corpus and the --qa file have both been read
    pairs: list[QAPair] | None = None  # the --qa file's pairs, or None
    reference: list[str] = field(default_factory=list)  # reference-text paragraphs (forgetting)
    store: Any = None  # the Chroma client, once opened
    models: LoadedModels | None = None
    model_check: ModelCheck | None = None
    profile: CorpusProfile | None = None
    evalset: EvalSet | None = None
    whole: WholeCorpusFit | None = None
    estimate: Any = None  # advisor.measure.estimate.Estimate
    train_budget_seconds: float = 0.0  # --budget-minutes, or less where --max-minutes cut it
    index: BuiltIndex | None = None
    tuned_index: BuiltIndex | None = None  # retrieval with the tuned embedding model (None: not tuned)
    skipped: dict[str, str] = field(default_factory=dict)  # arm -> why a planned arm is not measured
    tuned: TunedModel | None = None
    rated: list = field(default_factory=list)  # --feedback-ratings' RatedQuestion lines
    feedback_tuned: TunedModel | None = None  # the fine-tune trained further on `rated`
    rated_held_out: int = 0  # held-out questions left out because the ratings answered them
    arms: list[Arm] = field(default_factory=list)  # the arms measured so far
    runs: dict[str, ArmRun] = field(default_factory=dict)
    answer_book: AnswerBook = field(default_factory=AnswerBook)  # answers by weights and prompt, shared by the arms
    forgetting: Forgetting = field(default_factory=Forgetting)  # the reference text before and after training
    report: Any = None  # advisor.verdict.report.Report, the last stage's
