"""The report model (JSON is the source of truth) and its atomic writing into the run folder."""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
CHOICES = ("rag", "finetune", "both", "neither")
CONFIDENCES = ("low", "medium", "high")


@dataclass
class Recommendation:
    choice: str
    confidence: str
    reasons: list[str]

    def __post_init__(self):
        if self.choice not in CHOICES or self.confidence not in CONFIDENCES:
            raise ValueError(f"bad recommendation {self.choice!r}/{self.confidence!r}")


@dataclass
class ArmReport:
    quality: dict[str, dict]  # metric -> {"value", "n", "ci95", ["warning"]}
    latency_ms: dict[str, float]  # p50, p95 (+ n, parts)
    cost_usd: dict[str, float]  # one_off, per_1k_queries
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    config: dict
    corpus: dict
    arms: dict[str, ArmReport]
    recommendation: Recommendation
    models: dict = field(default_factory=dict)
    hardware: dict = field(default_factory=dict)
    evaluation: dict = field(default_factory=dict)
    comparisons: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    about: list[str] = field(default_factory=list)  # what this run is, said before any figure
    run_dir: str | None = None
    created: str = ""
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict:
        data = asdict(self)
        return {"schema_version": data.pop("schema_version"), **data}

    @classmethod
    def from_dict(cls, data: dict) -> "Report":
        data = dict(data)
        data["arms"] = {name: ArmReport(**arm) for name, arm in data["arms"].items()}
        data["recommendation"] = Recommendation(**data["recommendation"])
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> "Report":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _json_safe(value):
    """NaN and infinity are not JSON: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_atomic(path: str | Path, text: str) -> None:
    """Writes to a temporary file beside `path`, then renames: a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, data) -> None:
    write_atomic(path, json.dumps(_json_safe(data), indent=2, ensure_ascii=False) + "\n")


def write_report(report: Report, run_dir: str | Path) -> dict[str, Path]:
    """Writes report.json and report.md; returns their paths."""
    from advisor.verdict.render import render_markdown

    run_dir = Path(run_dir)
    paths = {"json": run_dir / "report.json", "markdown": run_dir / "report.md"}
    write_json(paths["json"], report.to_dict())
    write_atomic(paths["markdown"], render_markdown(report))
    return paths
