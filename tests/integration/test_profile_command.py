"""advisor profile and advisor evalset: the corpus profile in seconds, values masked, with or without a model;
the probes written as a --qa file and read back."""

import json

TEXT = ("The morning ferry leaves Berth 5 at 07:15 and calls at Oskary, Vellmar and the outer islands before "
        "returning to the harbour by noon, except on Sundays when the harbour office stays closed all day.")


def test_profile_prints_size_duplicates_and_masked_personal_data(tmp_path, tiny_model_dir, run_cli):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.md").write_text(TEXT)
    (corpus / "b.txt").write_text(TEXT.replace("07:15", "07:16"))
    (corpus / "crew.md").write_text("Crew list\nSkipper: write to jane.doe@example.com before sailing.\n")
    (corpus / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    result = run_cli("profile", str(corpus), "--base-model", str(tiny_model_dir), "--json")
    assert result.returncode == 0, result.stderr
    profile = json.loads(result.stdout)
    assert profile["documents"] == 3 and profile["tokens"] > 0 and profile["file_types"] == {".md": 2, ".txt": 1}
    assert profile["near_duplicates"]["pairs"][0]["second"] == "b.txt"
    assert profile["personal_data"]["counts"]["emails"] == 1
    assert profile["personal_data"]["findings"][0] == {"kind": "emails", "path": "crew.md", "line": 2,
                                                       "value": "j***@***.com"}
    assert profile["skipped"] == [{"path": "sheet.xlsx", "reason": "unsupported file type .xlsx"}]
    # The model's weights were loaded: how new the corpus is to it, against the shipped general text.
    novelty = profile["novelty"]
    assert novelty["corpus_perplexity"] > 0 and novelty["reference_perplexity"] > 0 and "ships" in novelty["reference"]
    assert 0 <= profile["tokenizer_splits"]["share_split"] <= 1 and "reference_share_split" in profile["tokenizer_splits"]
    assert profile["style"]["documents"] == 3 and profile["style"]["consistency"]["verdict"]
    assert profile["freshness"]["file_times"]["files"] == 3

    quick = json.loads(run_cli("profile", str(corpus), "--base-model", str(tiny_model_dir), "--json", "--no-model").stdout)
    assert "novelty" not in quick and quick["tokens"] == profile["tokens"]

    text = run_cli("profile", str(corpus), "--base-model", str(tmp_path / "no model here"))
    assert text.returncode == 0, text.stderr
    assert "tokens not counted" in text.stdout and "crew.md line 2: emails j***@***.com" in text.stdout
    assert "jane.doe" not in text.stdout + text.stderr
    missing = run_cli("profile", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_evalset_writes_probes_a_run_reads_back_as_its_questions(tmp_path, tiny_corpus, run_cli):
    corpus, _ = tiny_corpus
    out = tmp_path / "probes.jsonl"
    made = run_cli("evalset", str(corpus), "--out", str(out), "--max-probes", "12")
    assert made.returncode == 0, made.stderr
    assert f"Wrote 12 probes to {out}" in " ".join(made.stdout.split()) and "--qa" in made.stdout
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 12 and {line["split"] for line in lines} == {"eval"}
    for line in lines:
        assert line["answer"] in line["passage"] and line["answer"] not in line["question"]
        assert (corpus / line["source"].split("#")[0]).is_file() and line["origin"] == "cloze"
    assert run_cli("evalset", str(corpus), "--out", str(out), "--max-probes", "0").returncode == 2
