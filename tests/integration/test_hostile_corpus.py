"""A hostile corpus folder, made here: every bad input is reported or read, nothing is followed out of the
folder, nothing is read whole that is too large, and nothing crashes; arbitrary bytes (hypothesis) too."""

import json
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.corpus.evalset import build_eval_set
from advisor.corpus.qa import load_qa
from advisor.corpus.loading import MAX_FILE_BYTES, decode_bytes, html_to_text, load_corpus
from advisor.corpus.profile import profile_documents
from advisor.errors import CorpusError, QAFileError

GOOD = ("The morning ferry leaves Berth 5 at 07:15 and calls at Oskary before noon. The harbour master, "
        "Jonas Ekwall, posts any change on the board by the ticket office in Port Elsk.")


def hostile_folder(root):
    """Writes the folder; returns what each troublesome entry is called there."""
    root.mkdir()
    (root / "good.md").write_text(GOOD, encoding="utf-8")
    (root / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + random.Random(0).randbytes(4000))  # binary, text name
    (root / "latin1.txt").write_bytes("Señor Müller's café reopens; the ferry to Île Verte sails at noon.".encode("latin-1"))
    (root / "utf16_bom.txt").write_bytes("UTF-16 with a byte order mark: the pier at Tarrow.".encode("utf-16"))
    (root / "utf16_plain.txt").write_bytes("UTF-16 without a byte order mark: the pier at Quillan.".encode("utf-16-le"))
    (root / "empty.md").write_bytes(b"")
    (root / "huge_line.txt").write_bytes(b"ferry " * ((MAX_FILE_BYTES + 2_000_000) // 6))  # one 10 MB line
    (root / "loop").symlink_to(root, target_is_directory=True)  # a symlink loop
    (root / "outside").symlink_to("/", target_is_directory=True)  # a directory link out of the corpus
    locked = root / "locked.md"
    locked.write_text("nobody may read this", encoding="utf-8")
    locked.chmod(0)
    (root / "name with spaces and ü.md").write_text("A name with spaces and a non-ASCII letter.", encoding="utf-8")
    (root / "new\nline.md").write_text("A file whose name holds a newline.", encoding="utf-8")
    deep = root
    for level in range(30):
        deep = deep / f"level{level}"
    deep.mkdir(parents=True)
    (deep / "deep.md").write_text("Thirty folders down, the document still counts.", encoding="utf-8")
    (root / "notes.jsonl").write_text(json.dumps({"text": "a good line"}) + "\n{broken\n"
                                      + json.dumps({"text": "x" * 3_000_000}) + "\n[1, 2]\n", encoding="utf-8")
    (root / "page.html").write_text("<html><script>alert('x')</script><p>Visible paragraph text.</p></html>",
                                    encoding="utf-8")
    return {"locked": "locked.md", "newline": "new\nline.md"}


def test_a_hostile_folder_is_read_as_far_as_it_can_be_and_every_skip_says_why(tmp_path):
    names = hostile_folder(tmp_path / "corpus")
    corpus = load_corpus(tmp_path / "corpus")
    texts = {d.source: d.text for d in corpus.documents}
    reasons = {s.path: s.reason for s in corpus.skipped}
    assert texts["good.md"] == GOOD
    assert reasons["photo.txt"].startswith("binary") and reasons["empty.md"] == "empty file"
    assert "Müller" in texts["latin1.txt"] and "Tarrow" in texts["utf16_bom.txt"] and "Quillan" in texts["utf16_plain.txt"]
    assert len(texts["huge_line.txt"]) <= MAX_FILE_BYTES and any("huge_line.txt" in p for p in reasons)
    assert not any(source.startswith(("loop/", "outside/")) for source in texts)  # links are not followed
    assert texts["name with spaces and ü.md"] and texts[names["newline"]]
    assert any(source.endswith("deep.md") and source.count("/") == 30 for source in texts)
    assert "notes.jsonl#1" in {d.id for d in corpus.documents} and "notes.jsonl#3" in {d.id for d in corpus.documents}
    assert "not valid JSON" in reasons["notes.jsonl:2"] and "notes.jsonl:4" in reasons
    assert "alert" not in texts["page.html"] and "Visible paragraph text." in texts["page.html"]
    if os.geteuid() != 0:  # root reads any file
        assert reasons[names["locked"]].startswith("unreadable")

    profile = profile_documents(corpus.documents)  # every part of the profile copes, the 8 MB line included
    assert profile.documents == len(corpus.documents) and profile.style["documents"] > 0
    probes = build_eval_set(corpus.documents, None, "knowledge", eval_fraction=0.5, seed=0, max_eval=50)
    assert all(p.answer in p.passage for p in probes.pairs)


def test_the_profile_command_prints_a_hostile_folder_without_a_traceback(tmp_path, tiny_model_dir, run_cli):
    hostile_folder(tmp_path / "corpus")
    result = run_cli("profile", tmp_path / "corpus", "--base-model", tiny_model_dir, "--no-model", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "photo.txt: binary" in result.stdout
    assert "sampled:" in result.stdout  # more than 4 million characters: tokens and style read a sample


def test_one_document_and_a_hundred_thousand_tiny_ones(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "only.md").write_text(GOOD, encoding="utf-8")
    single = load_corpus(tmp_path / "one").documents
    assert len(single) == 1 and profile_documents(single).style["consistency"]["verdict"] == "one document"
    style = build_eval_set(single, None, "style", eval_fraction=0.5, seed=0, max_eval=10)
    assert style.documents == [] and "single document" in style.warnings[0]

    many = tmp_path / "many"
    many.mkdir()
    for index in range(100_000):
        (many / f"{index:06d}.txt").write_text(f"Note {index}: the ferry left at {index % 24:02d}:15.", encoding="utf-8")
    documents = load_corpus(many).documents
    assert len(documents) == 100_000
    profile = profile_documents(documents)
    assert profile.documents == 100_000 and profile.exact_duplicates == 0


def test_a_qa_file_with_a_repeated_question_names_both_lines(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in [
        {"question": "Where does the ferry leave from?", "answer": "Berth 5"},
        {"question": "Who is the harbour master?", "answer": "Jonas Ekwall"},
        {"question": "where does the ferry  leave from", "answer": "Berth 6"}]) + "\n", encoding="utf-8")
    with pytest.raises(QAFileError, match="line 3 repeats the question of line 1"):
        load_qa(path)
    path.write_text(json.dumps({"question": "Q?", "answer": ""}) + "\n", encoding="utf-8")
    with pytest.raises(QAFileError, match="empty \"answer\""):
        load_qa(path)
    path.write_bytes("question: é".encode("latin-1"))
    with pytest.raises(QAFileError, match="not UTF-8"):
        load_qa(path)


# --- arbitrary bytes in: documents or a clear error out, never anything else ------------------------------

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(st.one_of(st.binary(max_size=3000), st.text(max_size=1000).map(lambda text: text.encode("utf-8"))))
def test_any_bytes_decode_to_text_without_nul_and_utf8_unchanged_or_say_why(data):
    try:
        text, encoding = decode_bytes(data)
    except ValueError as exc:
        assert str(exc)  # a reason the skipped-file list can show
        return
    assert "\x00" not in text  # what has NUL bytes after decoding is binary, not text
    try:
        as_utf8 = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        as_utf8 = None
    if as_utf8 is not None and b"\x00" not in data:  # valid UTF-8 is read as UTF-8, never guessed at
        assert (text, encoding) == (as_utf8, "utf-8")


@FAST
@given(st.binary(max_size=2000), st.sampled_from([".txt", ".md", ".html", ".jsonl", ".rst"]))
def test_any_file_loads_as_documents_or_a_corpus_error(tmp_path_factory, data, suffix):
    folder = tmp_path_factory.mktemp("any")
    (folder / f"file{suffix}").write_bytes(data)
    try:
        corpus = load_corpus(folder)
    except CorpusError as exc:
        assert "no readable documents" in exc.message
        return
    assert all(d.text.strip() for d in corpus.documents)


def _normalized_lines(text: str) -> str:
    """Each line's whitespace collapsed to single spaces, blank lines dropped."""
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.split())


MARKUP = st.lists(st.one_of(st.text(max_size=40), st.sampled_from(
    ["<p>", "</p>", "<br>", "<div class='x'>", "</div>", "<script>", "</script>", "<style>", "</style>",
     "<!-- a comment -->", "&amp;", "&lt;", "<", "&"])), max_size=60).map("".join)
PLAIN = st.text(alphabet=st.characters(exclude_characters="<&"), max_size=1000)  # nothing HTML would parse


@FAST
@given(st.one_of(st.text(max_size=2000), MARKUP))
def test_any_html_gives_text_in_normalized_lines(markup):
    text = html_to_text(markup)
    assert text == _normalized_lines(text)


@FAST
@given(PLAIN, PLAIN)
def test_html_to_text_keeps_plain_text_and_drops_scripts(hidden, plain):
    assert html_to_text(plain) == _normalized_lines(plain)
    assert html_to_text(f"<script>{hidden}</script>{plain}") == _normalized_lines(plain)
    assert html_to_text(f"<p>{hidden}</p>{plain}") == _normalized_lines(f"{hidden}\n{plain}")  # a block ends a line


@FAST
@given(st.binary(max_size=2000))
def test_any_qa_file_gives_pairs_or_a_qa_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("qa") / "qa.jsonl"
    path.write_bytes(data)
    try:
        pairs = load_qa(path)
    except QAFileError as exc:
        assert exc.message
        return
    assert len(pairs) >= 2 and all(p.question and p.answer for p in pairs)


def _usable_qa_record(record: dict) -> bool:
    """What load_qa accepts on one line: a question, an answer (a number counts, a boolean does not), a known split."""
    question, answer = record["question"], record["answer"]
    answer = str(answer) if isinstance(answer, int) and not isinstance(answer, bool) else answer
    return bool(isinstance(question, str) and question.strip() and isinstance(answer, str) and answer.strip()
                and record["split"] in (None, "train", "eval"))


SPLIT = st.sampled_from([None, "train", "eval", "test"])
ANY_RECORD = st.fixed_dictionaries({"question": st.one_of(st.text(max_size=40), st.integers(), st.none()),
                                    "answer": st.one_of(st.text(max_size=20), st.integers(), st.none(), st.booleans()),
                                    "split": SPLIT})
# A question and an answer that are never blank (padded, so there are spaces to strip): many files load.
WELL_FORMED_RECORD = st.fixed_dictionaries({
    "question": st.text(max_size=40).map(lambda q: f" {q}? "),
    "answer": st.one_of(st.text(max_size=20).map(lambda a: f" {a}x "), st.integers()), "split": SPLIT})


@FAST
@given(st.lists(st.one_of(WELL_FORMED_RECORD, ANY_RECORD), max_size=8))
def test_any_json_records_give_pairs_or_a_qa_error(tmp_path_factory, records):
    path = tmp_path_factory.mktemp("qa") / "qa.jsonl"
    path.write_text("\n".join(json.dumps({k: v for k, v in r.items() if v is not None}) for r in records),
                    encoding="utf-8")
    acceptable = len(records) >= 2 and all(_usable_qa_record(r) for r in records)
    try:
        pairs = load_qa(path)
    except QAFileError as exc:
        # a file whose every line is usable is refused only for a repeated question
        assert not acceptable or "repeats the question of line" in exc.message, exc.message
        return
    assert acceptable
    assert [(p.question, p.answer, p.split) for p in pairs] == \
        [(r["question"].strip(), str(r["answer"]).strip(), r["split"]) for r in records]
    # no question twice, case, punctuation and spacing aside: it would be trained on and held out
    asked = [" ".join("".join(ch for ch in p.question.lower() if ch.isalnum() or ch.isspace()).split()) for p in pairs]
    assert len(set(asked)) == len(asked)
