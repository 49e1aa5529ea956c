"""Text from the binary document formats a corpus folder often holds: PDF (pypdf) and Word .docx (python-docx)."""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

PDF_SUFFIXES = {".pdf"}
DOCX_SUFFIXES = {".docx"}
EXTRACTED_SUFFIXES = PDF_SUFFIXES | DOCX_SUFFIXES
# Formats a user may expect to work, with what to do instead (any other type is just "unsupported").
CONVERT_FIRST = {".doc": "the old Word format: save it as .docx or PDF", ".odt": "save it as .docx or PDF",
                 ".rtf": "save it as .docx or PDF", ".pptx": "export the slides as PDF",
                 ".ppt": "export the slides as PDF"}


@dataclass
class Extracted:
    """A file's text, and what of it could not be read (pages that failed, the part past the size cap)."""

    text: str
    cut: bool = False  # the text reached the cap: the rest of the file is not read
    failed_pages: list[int] = field(default_factory=list)  # 1-based pages whose text could not be extracted


def extract_text(path: Path, limit: int) -> Extracted:
    """The text of a .pdf or .docx file, at most about `limit` characters; ValueError saying why when the file
    gives none (not a readable file of its type, encrypted, a scan without a text layer)."""
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES:
        return _pdf_text(path, limit)
    if suffix in DOCX_SUFFIXES:
        return _docx_text(path, limit)
    raise ValueError(f"no text extractor for {suffix or 'a file without a suffix'}")


def _pdf_text(path: Path, limit: int) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    pypdf_log = logging.getLogger("pypdf")
    level = pypdf_log.level
    pypdf_log.setLevel(logging.ERROR)  # a slightly malformed file is common, and read anyway: no warning per object
    try:
        with path.open("rb") as handle:  # read from the file as needed, never held whole in memory
            try:
                reader = PdfReader(handle)
                locked = reader.is_encrypted and not reader.decrypt("")  # an empty password opens many PDFs
                pages = 0 if locked else len(reader.pages)
            except (DependencyError, FileNotDecryptedError):
                locked = True
            except Exception as exc:  # pypdf raises many kinds on a damaged file: each is a file to skip
                raise ValueError(f"not a readable PDF ({_exception_text(exc)})") from None
            if locked:
                raise ValueError("encrypted PDF: it needs a password (save an unprotected copy)")
            parts, size, failed, cut = [], 0, [], False
            for number in range(pages):
                if size >= limit:
                    cut = True
                    break
                try:
                    text = (reader.pages[number].extract_text() or "").strip()
                except Exception:  # one damaged page: the others are still read
                    failed.append(number + 1)
                    continue
                if text:
                    parts.append(text)
                    size += len(text) + 2
    finally:
        pypdf_log.setLevel(level)
    if not parts:
        if failed and len(failed) == pages:
            raise ValueError("PDF whose pages could not be read")
        raise ValueError("PDF with no text layer (a scan? run OCR on it first, e.g. with ocrmypdf)")
    return Extracted("\n\n".join(without_running_lines(parts))[:limit], cut, failed)


EDGE_LINES = 2  # the lines at a page's top and bottom where running headers, footers and page numbers sit
# A line there on at least this share of the pages, and on 3 at least (digits aside), is a running header: a title
# on every page, page numbers (on every other page, where headers alternate), a chapter's title on its pages.
RUNNING_SHARE = 0.1
RUNNING_WORDS = 8  # and no longer: a sentence of the text that happens to repeat at a page's edge is kept


def without_running_lines(pages: list[str]) -> list[str]:
    """Each page's text less its running headers and footers, and the pages left empty: a line among a page's
    first or last EDGE_LINES, of up to RUNNING_WORDS words, that (its digits made alike) sits there on RUNNING_SHARE
    of the pages and on 3 at least ("Shared MIME-info Database" atop each page, "17", "Chapter 4: Function
    reference 17"); in a PDF of one or two pages, none."""
    def shape(line: str) -> str:
        return re.sub(r"\d+", "#", " ".join(line.split()))

    def edges(lines: list[str]) -> set[int]:
        return set(range(min(EDGE_LINES, len(lines)))) | set(range(max(0, len(lines) - EDGE_LINES), len(lines)))

    split = [page.splitlines() for page in pages]
    seen = Counter(shape_ for lines in split for shape_ in {shape(lines[i]) for i in edges(lines)})
    running = {shape_ for shape_, count in seen.items()
               if shape_ and len(shape_.split()) <= RUNNING_WORDS and count >= max(3, RUNNING_SHARE * len(pages))}
    kept = []
    for lines in split:
        edge = edges(lines)
        kept.append("\n".join(line for i, line in enumerate(lines) if i not in edge or shape(line) not in running))
    return [page for page in kept if page.strip()]


def _docx_text(path: Path, limit: int) -> Extracted:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        blocks, size = [], 0
        for block in docx.Document(str(path)).iter_inner_content():  # paragraphs and tables, in the document's order
            text = _table_text(block) if hasattr(block, "rows") else block.text.strip()
            if text:
                blocks.append(text)
                size += len(text) + 1
            if size >= limit:
                break
    except PackageNotFoundError:  # not a zip package at all
        raise ValueError("not a Word .docx file (damaged, or another format named .docx)") from None
    except Exception as exc:  # a zip that is not a Word document, damaged XML: a file to skip
        raise ValueError(f"not a readable .docx ({_exception_text(exc)})") from None
    if not blocks:
        raise ValueError("Word document with no text")
    return Extracted("\n".join(blocks)[:limit], size >= limit)


def _table_text(table) -> str:
    """A table as lines of cells apart by ' | ' (a merged cell, which python-docx gives once per grid column it
    spans, written once)."""
    lines = []
    for row in table.rows:
        cells, previous = [], None
        for cell in row.cells:
            text = " ".join(cell.text.split())
            if text and cell._tc is not previous:  # the same cell element again: one merged across columns
                cells.append(text)
            previous = cell._tc
        if cells:
            lines.append(" | ".join(cells))
    return "\n".join(lines)


def _exception_text(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
