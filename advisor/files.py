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


def new_file_mode() -> int:
    """The permissions open() gives a new file: read and write for all, less the process's umask (read from /proc,
    which leaves it untouched, where there is one)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: str | Path, text: str) -> None:
    """Writes to a temporary file beside `path`, then renames: a reader never sees half a file. The file gets the
    permissions it had, or a new file's (a temporary file's own, owner-only, would hide a report from its readers)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        mode = new_file_mode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
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
