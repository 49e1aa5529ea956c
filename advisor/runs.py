"""Earlier runs under a runs folder: what each was (corpus, goal), when, and what it concluded."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from advisor.errors import ConfigError
from advisor.verdict.report import Report


@dataclass(frozen=True)
class PastRun:
    path: Path
    created: str  # ISO time: the report's, or the run folder's last change for a run that did not finish
    corpus: str
    goal: str
    finished: bool  # report.json exists; an unfinished run can be resumed with its own settings
    choice: str | None = None
    confidence: str | None = None
    config: dict = field(default_factory=dict, compare=False)  # its config.json: what resuming it runs again

    @property
    def verdict(self) -> str:
        return f"{self.choice} ({self.confidence})" if self.finished else "not finished: resumable"


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_run(folder: str | Path) -> PastRun | None:
    """The run in `folder`, or None when it is not a run folder (no readable config.json)."""
    folder = Path(folder)
    config = _read_json(folder / "config.json")
    if config is None:
        return None
    report = _read_json(folder / "report.json")
    recommendation = (report or {}).get("recommendation") or {}
    created = (report or {}).get("created") or datetime.fromtimestamp(
        folder.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
    return PastRun(folder, created, str(config.get("corpus", "")), str(config.get("goal", "")),
                   finished=report is not None and bool(recommendation),
                   choice=recommendation.get("choice"), confidence=recommendation.get("confidence"), config=config)


def list_runs(root: str | Path = "runs") -> list[PastRun]:
    """Every run folder directly under `root` (and one level down, as calibration writes), newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = []
    for folder in (p for p in root.iterdir() if p.is_dir()):
        run = read_run(folder)
        if run is None:
            runs.extend(r for sub in folder.iterdir() if sub.is_dir() and (r := read_run(sub)))
        else:
            runs.append(run)
    return sorted(runs, key=lambda run: run.created, reverse=True)


def finished_report(run_dir: str | Path, *, relocate: bool = True) -> Report:
    """A finished run's Report from its folder, its run_dir where the folder is now (unless not `relocate`: as
    report.json says, so that it renders to the same bytes); a one-line ConfigError when there is none to read."""
    folder = Path(run_dir).expanduser()
    source = folder / "report.json"
    if not folder.is_dir():
        raise ConfigError(f"{str(run_dir)!r} is not a folder", hint="pass the run folder of a finished run")
    if not source.is_file():
        raise ConfigError(f"{str(folder)!r} holds no report.json: the run did not finish",
                          hint="advisor run --resume RUN_DIR finishes it")
    try:
        report = Report.load(source)
    except OSError as exc:
        raise ConfigError(f"{str(source)!r} cannot be read ({exc.strerror or exc})") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"{str(source)!r} is not a report this version can read ({exc})") from None
    return dataclasses.replace(report, run_dir=str(folder)) if relocate else report
