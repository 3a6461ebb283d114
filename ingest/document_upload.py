"""Product documents uploaded in the web editor: checked (size, type by name and by content), stored in kb/docs/.

A file is accepted only when its extension is allowed and its bytes agree (a PDF starts with the PDF
signature; Markdown and HTML are UTF-8 text without NUL bytes; HTML has tags), and when ingest can read it
into at least one chunk. Only then does it replace anything under kb/docs/; when the re-index after that fails,
the previous version is put back and re-indexed (`ingest.reindexed_write`), and the upload is refused saying why.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.documents import read_document
from ingest.reindexed_write import ReindexError, write_and_reindex

DOCS_FOLDER = "docs"
ALLOWED_SUFFIXES = {".pdf": "pdf", ".md": "text", ".markdown": "text", ".html": "html", ".htm": "html"}
_HTML_TAG = re.compile(rb"<\s*(!doctype|html|head|body|h[1-6]|p|div|table|ul|ol|section|article)\b", re.IGNORECASE)


class UploadRejectedError(Exception):
    """The upload is refused; the message says why, for the editor."""


@dataclass(frozen=True)
class StoredDocument:
    """A document now in the knowledge base."""

    path: Path
    shown: str  # relative to the knowledge-base root, as answers cite it
    chunks: int
    replaced: bool


def safe_document_name(original: str) -> str:
    """A lowercase ASCII file name (letters, digits, dashes) with the original extension."""
    name = Path(original.replace("\\", "/")).name
    stem, suffix = os.path.splitext(name)
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_stem.lower()).strip("-")[:80] or "dokumen"
    return slug + suffix.lower()


def check_document(data: bytes, suffix: str, max_bytes: int) -> None:
    """Raise UploadRejectedError unless `data` is a non-empty, small enough file whose content matches `suffix`."""
    kind = ALLOWED_SUFFIXES.get(suffix)
    if kind is None:
        allowed = ", ".join(sorted(ALLOWED_SUFFIXES))
        raise UploadRejectedError(f"file type '{suffix or '(none)'}' is not accepted; upload one of {allowed}")
    if not data:
        raise UploadRejectedError("the file is empty")
    if len(data) > max_bytes:
        raise UploadRejectedError(f"the file is {len(data):,} bytes; the limit is {max_bytes:,} bytes")
    if kind == "pdf":
        if not data.startswith(b"%PDF-"):
            raise UploadRejectedError("the file is named .pdf but is not a PDF")
        return
    if b"\x00" in data:
        raise UploadRejectedError(f"the file is named {suffix} but is binary, not text")
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadRejectedError(f"the file is named {suffix} but is not UTF-8 text") from None
    if kind == "html" and not _HTML_TAG.search(data[:65536]):
        raise UploadRejectedError(f"the file is named {suffix} but has no HTML tags")


def store_document(
    upload: Path,
    original_name: str,
    kb_root: Path,
    *,
    max_bytes: int,
    replace: bool,
    on_saved: Callable[[Path], object] | None = None,
) -> StoredDocument:
    """Check an uploaded file and put it under kb/docs/; `on_saved` (the re-index) runs on the stored file. When
    the re-index fails, the previous version (or none) is put back and re-indexed, and the upload is rejected."""
    name = safe_document_name(original_name)
    suffix = Path(name).suffix
    if upload.stat().st_size > max_bytes:  # before reading it into memory
        raise UploadRejectedError(f"the file is {upload.stat().st_size:,} bytes; the limit is {max_bytes:,} bytes")
    data = upload.read_bytes()
    check_document(data, suffix, max_bytes)
    folder = kb_root / DOCS_FOLDER
    target = folder / name
    shown = f"{DOCS_FOLDER}/{name}"
    existed = target.exists()
    if existed and not replace:
        raise UploadRejectedError(f"{shown} already exists; tick 'replace' to overwrite it")
    folder.mkdir(parents=True, exist_ok=True)
    # Ingest reads a dot-named copy first (out of its view): nothing under kb/docs/ changes for an unreadable file.
    handle, temporary = tempfile.mkstemp(prefix=".upload-", suffix=suffix, dir=folder)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        result = read_document(Path(temporary), shown)
    finally:
        Path(temporary).unlink(missing_ok=True)
    if result.problems:
        raise UploadRejectedError(result.problems[0].message)
    if not result.chunks:
        raise UploadRejectedError("the document has no text to answer from")
    try:
        write_and_reindex(target, data, on_saved, shown)
    except ReindexError as error:
        raise UploadRejectedError(str(error)) from error
    return StoredDocument(target, shown, len(result.chunks), existed)
