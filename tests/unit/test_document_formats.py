"""PDF and Word .docx documents in a corpus folder: their text read in order, and every file that gives none
(damaged, encrypted, a scan, an old format) skipped with a reason that says what to do."""

import docx
from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject, StreamObject

from advisor.corpus import loading
from advisor.corpus.loading import load_corpus, survey_folder
from advisor.corpus.profile import profile_documents


def write_pdf(path, pages: list[list[str]], *, user_password: str | None = None) -> None:
    """A PDF whose pages carry these lines as real text (Helvetica), made with pypdf alone; a page with no lines
    has no text layer, as a scan has none."""
    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({NameObject("/Type"): NameObject("/Font"),
                                                NameObject("/Subtype"): NameObject("/Type1"),
                                                NameObject("/BaseFont"): NameObject("/Helvetica")}))
    for lines in pages:
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
        if lines:
            stream = StreamObject()
            shown = " T* ".join(f"({line}) Tj" for line in lines)
            stream.set_data(f"BT /F1 12 Tf 14 TL 72 720 Td {shown} ET".encode("latin-1"))
            page[NameObject("/Contents")] = writer._add_object(stream)
    if user_password is not None:
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    writer.write(path)


def write_docx(path) -> None:
    document = docx.Document()
    document.add_heading("Fares", level=1)
    document.add_paragraph("Adults pay 12 pounds on the island route.")
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "Route"
    table.cell(0, 2).text = "Price"
    for column, text in enumerate(("yes", "yes", "12")):  # equal neighbours that are not one merged cell
        table.cell(1, column).text = text
    document.add_paragraph("Children travel free.")
    document.save(path)


def test_pdf_and_docx_documents_are_read_in_order_with_their_tables(tmp_path):
    write_pdf(tmp_path / "timetable.pdf", [["The ferry leaves at noon.", "It returns at six."], ["Page two."]])
    write_pdf(tmp_path / "owner_only.pdf", [["Protected from editing only."]], user_password="")
    write_docx(tmp_path / "fares.docx")
    (tmp_path / "note.txt").write_text("A plain note.", encoding="utf-8")
    corpus = load_corpus(tmp_path)
    by_id = {d.id: d.text for d in corpus.documents}
    assert by_id["timetable.pdf"] == "The ferry leaves at noon.\nIt returns at six.\n\nPage two."
    assert by_id["owner_only.pdf"] == "Protected from editing only."  # encrypted with an empty user password
    assert by_id["fares.docx"] == ("Fares\nAdults pay 12 pounds on the island route.\nRoute | Price\nyes | yes | 12\n"
                                   "Children travel free.")
    assert corpus.skipped == []
    profile = profile_documents(corpus.documents)  # their text has no encoding of its own: none counts as non-UTF-8
    assert profile.file_types == {".pdf": 2, ".docx": 1, ".txt": 1} and profile.non_utf8_documents == 0
    assert (survey_folder(tmp_path).usable, survey_folder(tmp_path).other) == (4, 0)


def test_pdf_and_docx_files_that_give_no_text_are_skipped_with_what_to_do(tmp_path):
    write_pdf(tmp_path / "scan.pdf", [[], []])
    write_pdf(tmp_path / "locked.pdf", [["Hidden."]], user_password="secret")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 50)
    (tmp_path / "renamed.docx").write_text("not a zip package", encoding="utf-8")
    (tmp_path / "empty.pdf").write_bytes(b"")
    (tmp_path / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    (tmp_path / "good.txt").write_text("A good document.", encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert [d.id for d in corpus.documents] == ["good.txt"]
    reasons = {s.path: s.reason for s in corpus.skipped}
    assert reasons["scan.pdf"].startswith("PDF with no text layer (a scan? run OCR on it first")
    assert reasons["locked.pdf"] == "encrypted PDF: it needs a password (save an unprotected copy)"
    assert reasons["broken.pdf"].startswith("not a readable PDF (")
    assert reasons["renamed.docx"] == "not a Word .docx file (damaged, or another format named .docx)"
    assert reasons["empty.pdf"] == "empty file"
    assert reasons["old.doc"] == "unsupported file type .doc (the old Word format: save it as .docx or PDF)"


def test_a_pdf_past_the_text_cap_is_read_to_the_cap_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(loading, "MAX_FILE_BYTES", 40)
    write_pdf(tmp_path / "long.pdf", [[f"Page {n} has this sentence on it."] for n in range(1, 6)])
    corpus = load_corpus(tmp_path)
    (document,) = corpus.documents
    assert document.text.startswith("Page 1 has this sentence on it.") and len(document.text) <= 40
    assert "Page 3" not in document.text
    assert [s.path.split(" MB")[0] for s in corpus.skipped] == ["long.pdf (beyond its first 0"]  # a 40-byte cap


def test_running_headers_footers_and_page_numbers_are_left_out_of_a_pdfs_text(tmp_path):
    fact = "Fact {}: the crossing to the island takes {} minutes in calm weather."  # a sentence: kept, if alike
    pages = [["Island Ferries Handbook", fact.format(n, 20 + n), str(n)] for n in range(1, 6)]
    pages[2].insert(1, "Chapter 2: Fares 3")  # a chapter's header on one page only: not a running line
    pages.append(["Island Ferries Handbook", "6"])  # nothing left of this page: no empty page in the text
    write_pdf(tmp_path / "handbook.pdf", pages)
    write_pdf(tmp_path / "short.pdf", [["Short Guide", "Only two pages.", "1"], ["Short Guide", "The end.", "2"]])
    by_id = {d.id: d.text for d in load_corpus(tmp_path).documents}
    assert by_id["handbook.pdf"] == "\n\n".join(
        [fact.format(1, 21), fact.format(2, 22), "Chapter 2: Fares 3\n" + fact.format(3, 23), fact.format(4, 24),
         fact.format(5, 25)])
    assert by_id["short.pdf"] == "Short Guide\nOnly two pages.\n1\n\nShort Guide\nThe end.\n2"  # too few to tell
