"""The interactive terminal app (Textual); a thin shell over advisor.Advisor, imported only when opened."""

from __future__ import annotations

from pathlib import Path


def run_tui(initial: dict | None = None, runs_root: str | Path = "runs") -> int:
    """Opens the app with `initial` settings filled in; returns the process exit code."""
    from advisor.tui.app import make_app

    make_app(initial, runs_root).run()
    return 0
