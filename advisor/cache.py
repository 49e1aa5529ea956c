"""Content-hashed stage results in the run folder, so a rerun reuses them and an interrupted run resumes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from advisor.files import write_json


def fingerprint(*parts) -> str:
    """A stable hash of JSON-able parts (sorted keys, so dict order does not matter)."""
    blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def documents_fingerprint(documents) -> str:
    return fingerprint([(d.id, hashlib.sha256(d.text.encode()).hexdigest()) for d in documents])


def model_fingerprint(folder: str) -> str:
    """Name, size and modification time of each weight and config file: cheap, and changes with them."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix in (".safetensors", ".json"))
    return fingerprint([(str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files])


class StageCache:
    """One JSON file per stage under RUN_DIR/cache, holding the key it was computed for."""

    def __init__(self, run_dir: str | Path):
        self.folder = Path(run_dir) / "cache"

    def get(self, stage: str, key: str):
        path = self.folder / f"{stage}.json"
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return entry.get("data") if entry.get("key") == key else None

    def put(self, stage: str, key: str, data) -> None:
        write_json(self.folder / f"{stage}.json", {"key": key, "data": data})
