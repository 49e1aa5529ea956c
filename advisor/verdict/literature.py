"""The published evidence the decision's rules cite: short names for the reasons, full references for the report."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    short: str  # as a reason cites it: "Ovadia et al. 2023"
    reference: str  # authors, title, where
    url: str
    finding: str  # what the rule takes from it, in one sentence


SOURCES: dict[str, Source] = {
    "ovadia2023": Source(
        "Ovadia et al. 2023",
        "Ovadia, Brief, Mishaeli, Elisha. Fine-Tuning or Retrieval? Comparing Knowledge Injection in LLMs. EMNLP 2024",
        "https://arxiv.org/abs/2312.05934",
        "retrieval beat unsupervised fine-tuning at adding knowledge, both new facts and facts seen in pre-training"),
    "soudani2024": Source(
        "Soudani et al. 2024",
        "Soudani, Kanoulas, Hasibi. Fine Tuning vs. Retrieval Augmented Generation for Less Popular Knowledge. "
        "SIGIR-AP 2024",
        "https://arxiv.org/abs/2403.01432",
        "for facts a model rarely saw in pre-training, retrieval helped more than fine-tuning"),
    "gekhman2024": Source(
        "Gekhman et al. 2024",
        "Gekhman, Yona, Aharoni, Eyal, Feder, Reichart, Herzig. Does Fine-Tuning LLMs on New Knowledge Encourage "
        "Hallucinations? EMNLP 2024",
        "https://arxiv.org/abs/2405.05904",
        "facts new to a model are learned slowly by fine-tuning, and once learned they raise its rate of hallucination"),
    "allenzhu2023": Source(
        "Allen-Zhu and Li 2023",
        "Allen-Zhu, Li. Physics of Language Models: Part 3.1, Knowledge Storage and Extraction. ICML 2024",
        "https://arxiv.org/abs/2309.14316",
        "a model learns a fact so that it can answer questions about it only when training shows it in many "
        "paraphrased forms"),
    "balaguer2024": Source(
        "Balaguer et al. 2024",
        "Balaguer et al. RAG vs Fine-tuning: Pipelines, Tradeoffs, and a Case Study on Agriculture. Microsoft, 2024",
        "https://arxiv.org/abs/2401.08406",
        "fine-tuning and retrieval added up: each improved accuracy, and together more"),
    "biderman2024": Source(
        "Biderman et al. 2024",
        "Biderman et al. LoRA Learns Less and Forgets Less. TMLR 2024",
        "https://arxiv.org/abs/2405.09673",
        "LoRA forgets less of what a model knew than full fine-tuning does, and learns less new"),
    "vendor_guidance": Source(
        "OpenAI's accuracy guide",
        "OpenAI. Optimizing LLMs for accuracy (platform guide)",
        "https://platform.openai.com/docs/guides/optimizing-llm-accuracy",
        "retrieval supplies knowledge the model lacks; fine-tuning teaches a consistent format, tone or behaviour"),
}


def short_names(keys: list[str]) -> str:
    """'Ovadia et al. 2023; Soudani et al. 2024' for the keys given (unknown keys are shown as they are)."""
    return "; ".join(SOURCES[key].short if key in SOURCES else key for key in keys)


def cited(keys) -> list[tuple[str, Source]]:
    """Each known source once, in the order first cited."""
    return [(key, SOURCES[key]) for key in dict.fromkeys(keys) if key in SOURCES]
