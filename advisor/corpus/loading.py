"""Loads a folder of documents; files that cannot be read are skipped and listed with a reason."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from advisor.corpus.formats import CONVERT_FIRST, EXTRACTED_SUFFIXES, extract_text
from advisor.errors import CorpusError

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES | EXTRACTED_SUFFIXES
SUPPORTED_TEXT = ".txt .md .rst .html .pdf .docx, and .jsonl with a \"text\" field"


@dataclass(frozen=True)
class Document:
    id: str  # unique: the relative path, plus "#line" for JSONL documents
    source: str  # the file's path relative to the corpus folder
    text: str
    encoding: str = "utf-8"
    modified: float | None = field(default=None, compare=False)  # the file's modification time (seconds)


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass
class Corpus:
    root: Path
    documents: list[Document]
    skipped: list[SkippedFile] = field(default_factory=list)


class _TextFromHTML(HTMLParser):
    """Collects visible text; script and style contents are not document text."""

    _HIDDEN = {"script", "style", "noscript", "template"}
    _BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section",
               "article", "title", "pre", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._HIDDEN:
            self._hidden_depth += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self._HIDDEN and self._hidden_depth:
            self._hidden_depth -= 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._hidden_depth:
            self.parts.append(data)

    def text(self) -> str:
        lines = (" ".join(line.split()) for line in "".join(self.parts).splitlines())
        return "\n".join(line for line in lines if line)


def html_to_text(html: str) -> str:
    parser = _TextFromHTML()
    parser.feed(html)
    parser.close()
    return parser.text()


def _looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\x00" in head:
        return True
    # Control bytes other than tab, newline, carriage return and form feed are rare in text.
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return control > max(4, len(head) // 100)


_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"), (b"\xff\xfe", "utf-16"),
         (b"\xfe\xff", "utf-16"))


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when the zero bytes fall on one side of each pair, as in UTF-16 text
    of mostly Latin letters; None otherwise (a binary file has its zeros anywhere)."""
    head = data[:8192]
    even, odd = head[0::2], head[1::2]
    if len(head) < 4:
        return None
    zeros_even, zeros_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if zeros_odd > 0.4 and zeros_even < 0.02:
        return "utf-16-le"
    if zeros_even > 0.4 and zeros_odd < 0.02:
        return "utf-16-be"
    return None


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Returns (text, encoding); raises ValueError when the bytes are not text in any encoding."""
    wide = next((codec for bom, codec in _BOMS if data.startswith(bom)), None) or (
        _utf16_without_bom(data) if b"\x00" in data[:8192] else None)
    if wide:
        try:
            text = data.decode(wide)
        except UnicodeDecodeError:
            text = None
        if text is not None and not _looks_binary(text.encode("utf-8")):
            return text.lstrip("\ufeff"), wide.removesuffix("-le").removesuffix("-be")
    if _looks_binary(data):
        raise ValueError("binary file (not text)")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes  # only needed for the rare non-UTF-8 file

    matches = list(from_bytes(data))
    if not matches:
        raise ValueError("not UTF-8, and no other text encoding fits")
    best = matches[0]
    # Single-byte encodings often tie; Windows-1252 is by far the most common of them, so it wins ties.
    tied = [m for m in matches if m.chaos <= best.chaos and m.coherence >= best.coherence]
    chosen = next((m for m in tied if m.encoding == "cp1252"), best)
    return str(chosen), chosen.encoding


def _documents_from_jsonl(text: str, source: str, encoding: str, modified: float | None,
                          skipped: list[SkippedFile]) -> list[Document]:
    docs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            skipped.append(SkippedFile(where, f"not valid JSON ({exc.msg})"))
            continue
        body = record.get("text") if isinstance(record, dict) else None
        if not isinstance(body, str) or not body.strip():
            skipped.append(SkippedFile(where, "no non-empty \"text\" field"))
            continue
        docs.append(Document(id=f"{source}#{number}", source=source, text=body.strip(),
                             encoding=encoding, modified=modified))
    return docs


def is_run_folder(folder: Path) -> bool:
    """An advisor run folder (its settings and log): never part of a corpus, even when runs/ sits inside one."""
    return (folder / "config.json").is_file() and (folder / "advisor.log").is_file()


def corpus_files(root: Path):
    """Every file under `root` a corpus may hold, in no set order: hidden files and folders, and the
    advisor's own run folders (`advisor run .` in a folder of documents writes runs/ inside it), left out."""
    for folder, subfolders, files in os.walk(root):
        here = Path(folder)
        subfolders[:] = [d for d in subfolders if not d.startswith(".") and not is_run_folder(here / d)]
        yield from (here / name for name in files if not name.startswith("."))


@dataclass(frozen=True)
class FolderSurvey:
    """A quick look at a would-be corpus folder, without reading any file: for checking a path as it is typed."""

    problem: str | None  # why it cannot be a corpus (missing, a file, unreadable); None when it can
    usable: int = 0  # non-empty files of a supported type (their text is checked only when the run loads them)
    other: int = 0  # files the run would skip: unsupported types, empty files
    capped: bool = False  # stopped counting at the limit

    def describe(self) -> str:
        if self.problem:
            return self.problem
        more = "+" if self.capped else ""
        if not self.usable:
            return (f"no usable documents ({self.other}{more} other file(s)); "
                    f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}")
        return f"{self.usable}{more} usable document file(s)" + (f", {self.other} to skip" if self.other else "")


def survey_folder(folder: str | Path, limit: int = 20_000) -> FolderSurvey:
    """Counts the files `load_corpus` would read or skip, by name and size only, up to `limit` files."""
    root = Path(folder).expanduser()
    if not str(folder).strip():
        return FolderSurvey("no folder given")
    if not root.exists():
        return FolderSurvey(f"{str(root)!r} does not exist")
    if not root.is_dir():
        return FolderSurvey(f"{str(root)!r} is a file, not a folder")
    usable = other = 0
    try:
        for path in corpus_files(root):
            if usable + other >= limit:
                return FolderSurvey(None, usable, other, capped=True)
            try:
                size = path.stat().st_size
            except OSError:
                other += 1
                continue
            if path.suffix.lower() in SUPPORTED_SUFFIXES and size > 0:
                usable += 1
            else:
                other += 1
    except OSError as exc:
        return FolderSurvey(f"{str(root)!r} cannot be read ({exc.strerror or exc})")
    return FolderSurvey(None, usable, other)


MAX_FILE_BYTES = 8 * 2 ** 20  # of a larger file, only this much is read


def _cut_at_character(data: bytes) -> bytes:
    """Bytes cut at a limit, less the UTF-8 character the cut may have left incomplete at the end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # not a continuation byte: ASCII, or the lead byte of the last character
            needed = 1 if byte < 0xC0 else 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data if back >= needed else data[:-back]
    return data


def load_corpus(folder: str | Path, on_file=None) -> Corpus:
    """Reads every supported file under `folder`; raises CorpusError when nothing usable is found.
    `on_file(done, total)`, when given, is called after each file (a folder of PDFs takes a while)."""
    root = Path(folder).expanduser()
    if not root.exists():
        raise CorpusError(f"corpus folder {str(root)!r} does not exist",
                          hint="pass the folder that holds your documents")
    if not root.is_dir():
        raise CorpusError(f"corpus path {str(root)!r} is a file, not a folder",
                          hint="pass the folder that holds your documents")

    documents: list[Document] = []
    skipped: list[SkippedFile] = []
    paths = sorted(corpus_files(root))
    for done, path in enumerate(paths):
        if on_file is not None and done:
            on_file(done, len(paths))
        source = path.relative_to(root).as_posix()
        suffix = path.suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            skipped.append(SkippedFile(source, f"unsupported file type {suffix or '(none)'}"
                                               + (f" ({CONVERT_FIRST[suffix]})" if suffix in CONVERT_FIRST else "")))
            continue
        if suffix in EXTRACTED_SUFFIXES:
            document = _extracted_document(path, source, skipped)
            if document:
                documents.append(document)
            continue
        try:
            with path.open("rb") as handle:  # never more than the cap: a file may be larger than memory
                data = handle.read(MAX_FILE_BYTES + 1)
                modified = os.fstat(handle.fileno()).st_mtime
        except OSError as exc:
            skipped.append(SkippedFile(source, f"unreadable ({exc.strerror or exc})"))
            continue
        if len(data) > MAX_FILE_BYTES:
            data = _cut_at_character(data[:MAX_FILE_BYTES])
            skipped.append(SkippedFile(f"{source} (beyond its first {MAX_FILE_BYTES // 2 ** 20} MB)",
                                       f"file larger than {MAX_FILE_BYTES // 2 ** 20} MB: only its start is read"))
        if not data.strip():
            skipped.append(SkippedFile(source, "empty file"))
            continue
        try:
            text, encoding = decode_bytes(data)
        except ValueError as exc:
            skipped.append(SkippedFile(source, str(exc)))
            continue
        if suffix in JSONL_SUFFIXES:
            documents.extend(_documents_from_jsonl(text, source, encoding, modified, skipped))
            continue
        if suffix in HTML_SUFFIXES:
            text = html_to_text(text)
        text = text.strip()
        if not text:
            skipped.append(SkippedFile(source, "no text after markup was removed"))
            continue
        documents.append(Document(id=source, source=source, text=text, encoding=encoding, modified=modified))

    if not documents:
        reasons = f" ({len(skipped)} file(s) skipped, e.g. {skipped[0].path}: {skipped[0].reason})" \
            if skipped else ""
        raise CorpusError(f"no readable documents in {str(root)!r}{reasons}", hint=f"supported: {SUPPORTED_TEXT}")
    return Corpus(root=root, documents=documents, skipped=skipped)


def _extracted_document(path: Path, source: str, skipped: list[SkippedFile]) -> Document | None:
    """A PDF or Word file's text as one document (None, with the reason in `skipped`, when it gives none); the
    pages that failed and the part past the size cap are listed in `skipped` too."""
    try:
        stat = path.stat()
        if stat.st_size == 0:
            skipped.append(SkippedFile(source, "empty file"))
            return None
        extracted = extract_text(path, MAX_FILE_BYTES)
    except OSError as exc:
        skipped.append(SkippedFile(source, f"unreadable ({exc.strerror or exc})"))
        return None
    except ValueError as exc:
        skipped.append(SkippedFile(source, str(exc)))
        return None
    if extracted.failed_pages:
        pages = ", ".join(map(str, extracted.failed_pages[:10])) + (", ..." if len(extracted.failed_pages) > 10 else "")
        skipped.append(SkippedFile(f"{source} (page {pages})", "the page's text could not be extracted"))
    if extracted.cut:
        skipped.append(SkippedFile(f"{source} (beyond its first {MAX_FILE_BYTES // 2 ** 20} MB of text)",
                                   f"more than {MAX_FILE_BYTES // 2 ** 20} MB of text: only its start is read"))
    # No text encoding: the format's own library decoded it.
    return Document(id=source, source=source, text=extracted.text, encoding="", modified=stat.st_mtime)
