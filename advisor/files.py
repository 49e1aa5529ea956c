"""Writing files so that a reader never sees half of one: atomic text and JSON (NaN as null)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path


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


def json_text(data) -> str:
    """The JSON every file of a run is written as (so a re-render gives the same bytes)."""
    return json.dumps(_json_safe(data), indent=2, ensure_ascii=False) + "\n"


def write_json(path: str | Path, data) -> None:
    write_atomic(path, json_text(data))
