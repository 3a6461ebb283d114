"""Uploaded documents: type checked by name and content, size-limited, stored under kb/docs/ only when readable."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.document_upload import UploadRejectedError, check_document, safe_document_name, store_document

LIMIT = 1024 * 1024


def test_names_are_made_safe() -> None:
    assert safe_document_name("Tarif Prabayar 2026 (baru).MD") == "tarif-prabayar-2026-baru.md"
    assert safe_document_name("../../etc/passwd.html") == "passwd.html"
    assert safe_document_name("C:\\Users\\x\\Panduan Éxtra.pdf") == "panduan-extra.pdf"
    assert safe_document_name("???.md") == "dokumen.md"


@pytest.mark.parametrize(
    ("data", "suffix", "reason"),
    [
        (b"# Judul", ".exe", "not accepted"),
        (b"# Judul", ".txt", "not accepted"),
        (b"", ".md", "empty"),
        (b"x" * (LIMIT + 1), ".md", "limit"),
        (b"<html><body>not a pdf</body></html>", ".pdf", "not a PDF"),
        (b"MZ\x90\x00\x03", ".md", "binary"),
        ("teks latin-1 é".encode("latin-1"), ".md", "not UTF-8"),
        (b"just words, no tags", ".html", "no HTML tags"),
    ],
)
def test_content_must_match_the_name(data: bytes, suffix: str, reason: str) -> None:
    with pytest.raises(UploadRejectedError, match=reason):
        check_document(data, suffix, LIMIT)


def test_accepted_content() -> None:
    check_document(b"%PDF-1.7\n...", ".pdf", LIMIT)
    check_document("# Judul\n\nIsi é".encode(), ".md", LIMIT)
    check_document(b"<!DOCTYPE html><h1>Judul</h1><p>Isi</p>", ".html", LIMIT)


def test_a_readable_document_is_stored_and_handed_to_the_reindex(tmp_path: Path) -> None:
    upload = tmp_path / "Paket Keluarga.md"
    upload.write_text("# Paket Keluarga\n\n## Harga\n\nRp150.000 untuk 4 nomor.\n", encoding="utf-8")
    saved: list[Path] = []
    stored = store_document(upload, upload.name, tmp_path / "kb", max_bytes=LIMIT, replace=False, on_saved=saved.append)
    assert stored.shown == "docs/paket-keluarga.md" and stored.chunks == 1 and not stored.replaced
    assert saved == [tmp_path / "kb" / "docs" / "paket-keluarga.md"]
    assert [p.name for p in (tmp_path / "kb" / "docs").iterdir()] == ["paket-keluarga.md"]  # no temporary files left
    with pytest.raises(UploadRejectedError, match="already exists"):
        store_document(upload, upload.name, tmp_path / "kb", max_bytes=LIMIT, replace=False)
    assert store_document(upload, upload.name, tmp_path / "kb", max_bytes=LIMIT, replace=True).replaced


def test_an_unreadable_pdf_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    upload = tmp_path / "scan.pdf"
    upload.write_bytes(b"%PDF-1.4\nnot really a pdf\n%%EOF\n")
    with pytest.raises(UploadRejectedError, match="PDF"):
        store_document(upload, upload.name, tmp_path / "kb", max_bytes=LIMIT, replace=False)
    assert list((tmp_path / "kb" / "docs").iterdir()) == []


def test_a_failed_reindex_takes_the_new_document_out_again(tmp_path: Path) -> None:
    upload = tmp_path / "baru.md"
    upload.write_text("# Baru\n\nIsi.\n", encoding="utf-8")

    def failing(path: Path) -> None:
        raise RuntimeError("index unavailable")

    with pytest.raises(RuntimeError):
        store_document(upload, upload.name, tmp_path / "kb", max_bytes=LIMIT, replace=False, on_saved=failing)
    assert not (tmp_path / "kb" / "docs" / "baru.md").exists()
