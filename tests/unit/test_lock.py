"""A run folder serves one run at a time; a killed run's lock is taken over."""

import os
import signal
import subprocess
import sys

import pytest

from advisor.api import Advisor
from advisor.config import AdvisorConfig
from advisor.errors import RunInUseError
from advisor.lock import OWNER_FILE, RunFolderLock

HOLD = ("import sys, time; from advisor.lock import RunFolderLock; held = RunFolderLock(sys.argv[1]).__enter__(); "
        "print('held', flush=True); time.sleep(120)")


def test_a_second_run_is_refused_with_the_holder_named(tmp_path):
    with RunFolderLock(tmp_path):
        with pytest.raises(RunInUseError) as refused:
            RunFolderLock(tmp_path).__enter__()
        assert f"is in use by process {os.getpid()}" in refused.value.message
        (tmp_path / "report.json").write_text("{}")
        with pytest.raises(RunInUseError):  # the run refuses before it reads or writes anything
            Advisor(AdvisorConfig(corpus=str(tmp_path / "no corpus"), out=str(tmp_path))).run()
        assert (tmp_path / "report.json").read_text() == "{}" and not (tmp_path / "config.json").exists()
    assert not (tmp_path / OWNER_FILE).exists()
    with RunFolderLock(tmp_path):  # released: the folder is free again
        pass


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunInUseError, match=f"process {holder.pid} "):
            RunFolderLock(tmp_path).__enter__()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (tmp_path / OWNER_FILE).exists()  # the killed run could not tidy up
    with RunFolderLock(tmp_path):
        assert str(os.getpid()) in (tmp_path / OWNER_FILE).read_text()


def test_runs_on_different_folders_hold_their_locks_at_once(tmp_path):
    (tmp_path / "first").mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "first")], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        (tmp_path / "second").mkdir()
        with RunFolderLock(tmp_path / "second"):  # another folder is free while the first is held
            assert (tmp_path / "second" / OWNER_FILE).exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
