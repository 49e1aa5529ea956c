"""One run at a time in a run folder: an operating-system lock, freed when its process ends, and who holds it."""

from __future__ import annotations

import json
import os
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path

from advisor.errors import RunInUseError

LOCK_FILE = ".advisor.lock"  # hidden: never read as a document, never listed as a run
OWNER_FILE = ".advisor.owner"  # which process holds the lock, for the message a second run gets


def _holder(run_dir: Path) -> str:
    try:
        owner = json.loads((run_dir / OWNER_FILE).read_text(encoding="utf-8"))
        return (f"process {owner['pid']} on {owner['host']} (started {owner['started']}: "
                f"{owner['command']})")
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


class RunFolderLock:
    """`with RunFolderLock(run_dir):` holds the folder for this process or raises RunInUseError at once.

    The lock is the operating system's (filelock: flock on Unix, msvcrt on Windows), so a run that was
    killed leaves no lock behind: the next run takes the folder over, whatever its owner file says."""

    def __init__(self, run_dir: str | Path):
        from filelock import FileLock

        self.run_dir = Path(run_dir)
        self._lock = FileLock(self.run_dir / LOCK_FILE, timeout=0, thread_local=False)

    def __enter__(self) -> "RunFolderLock":
        from filelock import Timeout

        try:
            self._lock.acquire()
        except Timeout:
            raise RunInUseError(f"run folder {str(self.run_dir)!r} is in use by {_holder(self.run_dir)}",
                                hint="wait for that run to end, or give this one another --out") from None
        owner = {"pid": os.getpid(), "host": socket.gethostname(),
                 "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "command": " ".join(sys.argv) or sys.executable}
        (self.run_dir / OWNER_FILE).write_text(json.dumps(owner), encoding="utf-8")
        return self

    def __exit__(self, *exc) -> None:
        (self.run_dir / OWNER_FILE).unlink(missing_ok=True)
        self._lock.release()
