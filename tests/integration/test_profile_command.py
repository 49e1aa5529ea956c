"""advisor profile: the corpus profile in seconds, values masked, with or without a tokenizer."""

import json
import subprocess
import sys

TEXT = ("The morning ferry leaves Berth 5 at 07:15 and calls at Oskary, Vellmar and the outer islands before "
        "returning to the harbour by noon, except on Sundays when the harbour office stays closed all day.")


def _profile(*args):
    return subprocess.run([sys.executable, "-m", "advisor", "profile", *args], capture_output=True, text=True,
                          timeout=300)


def test_profile_prints_size_duplicates_and_masked_personal_data(tmp_path, tiny_model_dir):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.md").write_text(TEXT)
    (corpus / "b.txt").write_text(TEXT.replace("07:15", "07:16"))
    (corpus / "crew.md").write_text("Crew list\nSkipper: write to jane.doe@example.com before sailing.\n")
    (corpus / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    result = _profile(str(corpus), "--base-model", str(tiny_model_dir), "--json")
    assert result.returncode == 0, result.stderr
    profile = json.loads(result.stdout)
    assert profile["documents"] == 3 and profile["tokens"] > 0 and profile["file_types"] == {".md": 2, ".txt": 1}
    assert profile["near_duplicates"]["pairs"][0]["second"] == "b.txt"
    assert profile["personal_data"]["counts"]["emails"] == 1
    assert profile["personal_data"]["findings"][0] == {"kind": "emails", "path": "crew.md", "line": 2,
                                                       "value": "j***@***.com"}
    assert profile["skipped"] == [{"path": "sheet.xlsx", "reason": "unsupported file type .xlsx"}]

    text = _profile(str(corpus), "--base-model", str(tmp_path / "no model here"))
    assert text.returncode == 0, text.stderr
    assert "tokens not counted" in text.stdout and "crew.md line 2: emails j***@***.com" in text.stdout
    assert "jane.doe" not in text.stdout + text.stderr
    missing = _profile(str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
