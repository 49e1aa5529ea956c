"""Atomic writes: whole or not at all, with the permissions an ordinary write would give."""

import os
import stat

from advisor.files import new_file_mode, write_atomic, write_json


def test_a_new_file_gets_an_ordinary_files_permissions_not_a_temporary_files(tmp_path):
    mask = os.umask(0o027)
    try:
        write_json(tmp_path / "report.json", {"a": float("nan")})
        assert stat.S_IMODE((tmp_path / "report.json").stat().st_mode) == 0o640 == new_file_mode()
    finally:
        os.umask(mask)
    assert (tmp_path / "report.json").read_text() == '{\n  "a": null\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left behind


def test_a_rewritten_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "report.md"
    path.write_text("old")
    path.chmod(0o604)
    write_atomic(path, "new")
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o604
