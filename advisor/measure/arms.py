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
    choice_title: str = ""  # that choice, as a verdict's title: "Use RAG"
    whole_corpus: bool = False  # every training document goes into the prompt
    tuned_embeddings: bool = False  # retrieves with the embedding model tuned on the training side
    from_feedback: bool = False  # answers with the fine-tune trained further on people's ratings
    # The option this arm refines (RAG with tuned embeddings is still RAG): it must measurably beat that one to
    # be chosen over it, and a tie between the two is no tie between options.
    variant_of: str | None = None

    @property
    def parts(self) -> frozenset[str]:
        """What recommending it puts in place: "rag" (an index), "tuned_embeddings" (its embedding model tuned),
        "finetune" (an adapter), "full_context"."""
        present = (("rag", self.retrieval), ("tuned_embeddings", self.tuned_embeddings), ("finetune", self.tuned),
                   ("full_context", self.whole_corpus))
        return frozenset(part for part, there in present if there)


ARM_KINDS = {kind.name: kind for kind in (
    ArmKind("base", "the base model", "Base model answers", tuned=False, retrieval=False, choice="neither",
            choice_title="Neither yet"),
    ArmKind("rag", "RAG", "RAG answers", tuned=False, retrieval=True, choice="rag", choice_title="Use RAG"),
    ArmKind("rag_tuned", "RAG with tuned embeddings", "Tuned-embedding RAG answers", tuned=False, retrieval=True,
            choice="rag_tuned", choice_title="Use RAG, with embeddings tuned on your corpus", tuned_embeddings=True,
            variant_of="rag"),
    ArmKind("full_context", "the whole corpus in the prompt", "Whole-corpus answers", tuned=False, retrieval=False,
            choice="full_context", choice_title="Put the whole corpus in the prompt", whole_corpus=True),
    ArmKind("finetune", "the LoRA fine-tune", "Fine-tuned answers", tuned=True, retrieval=False, choice="finetune",
            choice_title="Fine-tune (LoRA)"),
    ArmKind("finetune_rag", "the fine-tune with RAG", "Fine-tune + RAG answers", tuned=True, retrieval=True,
            choice="both", choice_title="Use both"),
    ArmKind("finetune_feedback", "the fine-tune trained on people's ratings", "Rating-trained answers", tuned=True,
            retrieval=False, choice="finetune_feedback",
            choice_title="Fine-tune (LoRA), then train it on people's ratings", from_feedback=True,
            variant_of="finetune"),
)}
BASELINE = "base"  # the arm every lift is measured against
# Each verdict is one arm's: the choice it makes, and the arm whose measurements it rests on.
KIND_OF_CHOICE = {kind.choice: kind for kind in ARM_KINDS.values()}
CHOICES = tuple(KIND_OF_CHOICE)


def arm_names(finetune_rag: bool, full_context: bool = False, tuned_embeddings: bool = False,
              from_feedback: bool = False) -> list[str]:
    """The arms a run measures, in the order they are measured and shown."""
    return (["base", "rag"] + (["rag_tuned"] if tuned_embeddings else []) + (["full_context"] if full_context else [])
            + ["finetune"] + (["finetune_rag"] if finetune_rag else []) + (["finetune_feedback"] if from_feedback
                                                                             else []))


def same_option(a: str, b: str) -> bool:
    """One arm refines the other (see ArmKind.variant_of)."""
    return any(x in ARM_KINDS and ARM_KINDS[x].variant_of == y for x, y in ((a, b), (b, a)))


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
