"""Corpus loading: formats, skipped files with reasons, and clear errors."""

import json
import random

import pytest

from advisor.corpus.loading import html_to_text, load_corpus
from advisor.errors import CorpusError


def test_reads_every_supported_format_recursively(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "one.txt").write_text("plain text document", encoding="utf-8")
    (tmp_path / "a" / "two.md").write_text("# Title\n\nmarkdown body", encoding="utf-8")
    (tmp_path / "a" / "b" / "three.rst").write_text("Title\n=====\n\nrst body", encoding="utf-8")
    (tmp_path / "page.html").write_text(
        "<html><head><title>T</title><script>var hidden = 1;</script></head>"
        "<body><h1>Head</h1><p>Visible &amp; kept</p></body></html>", encoding="utf-8")
    (tmp_path / "many.jsonl").write_text(
        json.dumps({"text": "first"}) + "\n\n" + json.dumps({"text": "second", "title": "x"}) + "\n",
        encoding="utf-8")
    read = []
    corpus = load_corpus(tmp_path, on_file=lambda done, total: read.append((done, total)))
    assert read == [(1, 5), (2, 5), (3, 5), (4, 5)]  # after each file but the last (the stage's end says that one)
    by_id = {d.id: d.text for d in corpus.documents}
    assert set(by_id) == {"one.txt", "a/two.md", "a/b/three.rst", "page.html", "many.jsonl#1", "many.jsonl#3"}
    assert "Visible & kept" in by_id["page.html"] and "hidden" not in by_id["page.html"]
    assert by_id["many.jsonl#3"] == "second"
    assert corpus.skipped == []


def test_bad_files_are_skipped_with_reasons(tmp_path):
    (tmp_path / "good.txt").write_text("a good document", encoding="utf-8")
    (tmp_path / "scan.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + random.Random(0).randbytes(2000))
    (tmp_path / "empty.md").write_bytes(b"")
    (tmp_path / "blank.md").write_text("   \n\n", encoding="utf-8")
    (tmp_path / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    (tmp_path / "broken.jsonl").write_text('{"text": "ok line"}\nnot json\n{"title": "no text"}\n',
                                           encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("ignored silently", encoding="utf-8")
    (tmp_path / "script_only.html").write_text("<script>x()</script>", encoding="utf-8")
    corpus = load_corpus(tmp_path)
    reasons = {s.path: s.reason for s in corpus.skipped}
    assert reasons["scan.txt"].startswith("binary")
    assert reasons["empty.md"] == "empty file" and reasons["blank.md"] == "empty file"
    assert "unsupported file type .xlsx" == reasons["sheet.xlsx"]
    assert "not valid JSON" in reasons["broken.jsonl:2"]
    assert "text" in reasons["broken.jsonl:3"]
    assert "no text" in reasons["script_only.html"]
    assert ".hidden.txt" not in reasons
    assert sorted(d.id for d in corpus.documents) == ["broken.jsonl#1", "good.txt"]


def test_non_utf8_text_is_decoded(tmp_path):
    letter = ("Dear Señor Müller, the harbour café reopens on Tuesday. “Welcome back,” said the "
              "harbour master, who thanks every sailor for their patience during the long winter repairs.")
    (tmp_path / "letter.txt").write_bytes(letter.encode("cp1252"))
    with pytest.raises(UnicodeDecodeError):
        (tmp_path / "letter.txt").read_bytes().decode("utf-8")
    doc = load_corpus(tmp_path).documents[0]
    assert "Señor Müller" in doc.text and doc.encoding != "utf-8"


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nowhere")


def test_file_instead_of_folder_is_a_clear_error(tmp_path):
    (tmp_path / "f.txt").write_text("x", encoding="utf-8")
    with pytest.raises(CorpusError, match="is a file, not a folder"):
        load_corpus(tmp_path / "f.txt")


def test_only_binary_files_is_a_clear_error(tmp_path):
    for name in ("a.txt", "b.md"):
        (tmp_path / name).write_bytes(bytes(range(256)) * 4)
    with pytest.raises(CorpusError, match="no readable documents.*2 file\\(s\\) skipped"):
        load_corpus(tmp_path)


def test_html_block_elements_become_lines():
    assert html_to_text("<ul><li>one</li><li>two</li></ul>") == "one\ntwo"


def test_survey_counts_what_loading_would_read_without_reading(tmp_path):
    from advisor.corpus.loading import survey_folder

    (tmp_path / "sub").mkdir()
    (tmp_path / "a.md").write_text("text")
    (tmp_path / "sub" / "b.txt").write_text("more")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    (tmp_path / ".hidden.md").write_text("secret")
    survey = survey_folder(tmp_path)
    assert (survey.problem, survey.usable, survey.other) == (None, 2, 2)
    assert survey.describe() == "2 usable document file(s), 2 to skip"
    assert survey_folder(tmp_path, limit=1).capped
    assert "does not exist" in survey_folder(tmp_path / "missing").describe()
    assert "is a file" in survey_folder(tmp_path / "a.md").describe()
    (tmp_path / "a.md").unlink()
    (tmp_path / "sub" / "b.txt").unlink()
    assert survey_folder(tmp_path).describe().startswith("no usable documents")


def test_run_folders_inside_a_corpus_are_not_read_as_documents(tmp_path):
    from advisor.corpus.loading import load_corpus, survey_folder

    (tmp_path / "guide.md").write_text("The ferry leaves at noon.")
    run = tmp_path / "runs" / "docs-20260101"  # `advisor run .` in a folder of documents
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / "advisor.log").write_text("log")
    (run / "report.md").write_text("# Fine-tuning vs RAG")
    corpus = load_corpus(tmp_path)
    assert [d.source for d in corpus.documents] == ["guide.md"] and not corpus.skipped
    assert survey_folder(tmp_path).usable == 1


def test_wide_encodings_with_and_without_a_byte_order_mark_are_read(tmp_path):
    from advisor.corpus.loading import load_corpus

    text = "Fähre nach Oskary: Abfahrt 07:15 ab Kai 5."
    (tmp_path / "le_bom.txt").write_bytes(text.encode("utf-16"))  # BOM + little-endian
    (tmp_path / "be_bom.txt").write_bytes(b"\xfe\xff" + text.encode("utf-16-be"))
    (tmp_path / "le_plain.txt").write_bytes(text.encode("utf-16-le"))
    (tmp_path / "utf32.txt").write_bytes(text.encode("utf-32"))
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 4)
    corpus = load_corpus(tmp_path)
    assert {d.source: d.text for d in corpus.documents} == {name: text for name in
                                                             ("be_bom.txt", "le_bom.txt", "le_plain.txt", "utf32.txt")}
    assert [s.path for s in corpus.skipped] == ["binary.txt"]


def test_a_file_larger_than_the_cap_is_read_only_to_the_cap(tmp_path, monkeypatch):
    from advisor.corpus import loading

    monkeypatch.setattr(loading, "MAX_FILE_BYTES", 1001)
    (tmp_path / "huge.txt").write_text("ä" * 5000)  # one line, two bytes a character: the cap cuts one in half
    (tmp_path / "small.txt").write_text("A small note.")
    corpus = loading.load_corpus(tmp_path)
    huge = next(d for d in corpus.documents if d.source == "huge.txt")
    assert huge.text == "ä" * 500 and huge.encoding == "utf-8"
    assert any(s.path.startswith("huge.txt (beyond") for s in corpus.skipped)
