"""Text from the binary document formats a corpus folder often holds: PDF (pypdf) and Word .docx (python-docx)."""

from __future__ import annotations

import logging
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
                if reader.is_encrypted and not reader.decrypt(""):  # many PDFs are protected with an empty password
                    raise ValueError("encrypted PDF: it needs a password (save an unprotected copy)")
                pages = len(reader.pages)
            except (DependencyError, FileNotDecryptedError):
                raise ValueError("encrypted PDF: it needs a password (save an unprotected copy)") from None
            except ValueError:
                raise
            except Exception as exc:  # pypdf raises many kinds on a damaged file: each is a file to skip
                raise ValueError(f"not a readable PDF ({_exception_text(exc)})") from None
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
    return Extracted("\n\n".join(parts)[:limit], cut, failed)


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
