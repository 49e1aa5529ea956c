"""The typed evidence the measurements hand to the decision and the report: each arm's summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ArmReport:
    quality: dict[str, dict]  # metric -> {"value", "n", "ci95", ["warning"]}
    latency_ms: dict[str, float]  # p50, p95 (+ n, parts)
    cost_usd: dict[str, float]  # one_off, per_1k_queries
    label: str = ""  # how sentences name the arm ("RAG", "the LoRA fine-tune")
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
