"""The arms of the comparison as data: which model answers, whether retrieval adds passages, what it means."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ArmKind:
    """What an arm is; every table, label, comparison and choice derives from these entries."""

    name: str  # its key in report.json
    label: str  # in sentences: "RAG against the base model ..."
    answers_title: str  # its progress stage
    tuned: bool  # answers with the fine-tuned weights
    retrieval: bool  # retrieved passages go into the prompt
    choice: str  # what recommending this arm means (a Recommendation choice)
    whole_corpus: bool = False  # every training document goes into the prompt


ARM_KINDS = {kind.name: kind for kind in (
    ArmKind("base", "the base model", "Base model answers", tuned=False, retrieval=False, choice="neither"),
    ArmKind("rag", "RAG", "RAG answers", tuned=False, retrieval=True, choice="rag"),
    ArmKind("full_context", "the whole corpus in the prompt", "Whole-corpus answers", tuned=False, retrieval=False,
            choice="full_context", whole_corpus=True),
    ArmKind("finetune", "the LoRA fine-tune", "Fine-tuned answers", tuned=True, retrieval=False, choice="finetune"),
    ArmKind("finetune_rag", "the fine-tune with RAG", "Fine-tune + RAG answers", tuned=True, retrieval=True,
            choice="both"),
)}
BASELINE = "base"  # the arm every lift is measured against


def arm_names(finetune_rag: bool, full_context: bool = False) -> list[str]:
    """The arms a run measures, in the order they are measured and shown."""
    return (["base", "rag"] + (["full_context"] if full_context else []) + ["finetune"]
            + (["finetune_rag"] if finetune_rag else []))


def label(name: str) -> str:
    return ARM_KINDS[name].label if name in ARM_KINDS else name


@dataclass
class Arm:
    """One arm ready to measure: the model that answers, the retriever (or None), and a cache key
    made from everything its answers depend on."""

    kind: ArmKind
    model: Any
    retriever: Any | None
    key: str
    one_off_seconds: float = 0.0  # indexing and/or training, paid once
    passages: list[str] | None = None  # a fixed context for every question (the whole corpus)
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.kind.name
