"""Uploaded documents: type checked by name and content, size-limited, stored under kb/docs/ only when readable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.services.runtime import Runtime
from ingest.document_upload import UploadRejectedError, check_document, safe_document_name, store_document
from ingest.documents import read_document
from ingest.live_reindex import LiveReindexer
from ingest.sync import chunk_records

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
    calls: list[Path] = []

    def failing(path: Path) -> None:
        calls.append(path)
        raise RuntimeError("index unavailable")

    with pytest.raises(
        UploadRejectedError,
        match="could not be indexed \\(index unavailable\\); the new file was taken out again, but re-indexing",
    ):
        store_document(upload, upload.name, tmp_path / "kb", max_bytes=LIMIT, replace=False, on_saved=failing)
    assert not (tmp_path / "kb" / "docs" / "baru.md").exists()
    assert calls == [tmp_path / "kb" / "docs" / "baru.md", tmp_path / "kb" / "docs"]  # its folder re-indexed


def failing_after(reindex: LiveReindexer) -> Callable[[Path], object]:
    """The live re-index, failing once after it wrote the index (as when the engine's refresh fails)."""
    calls: list[Path] = []

    def run(path: Path) -> object:
        calls.append(path)
        summary = reindex(path)
        if len(calls) == 1:
            raise RuntimeError("refresh failed")
        return summary

    return run


def indexed_texts(runtime: Runtime, source: str) -> list[str]:
    records = runtime.engine.index.records().values()
    return sorted(r.text for r in records if r.metadata.get("source") == source)


@pytest.mark.fault("the re-index after an upload fails", "the old document is back in kb/ and in the index")
def test_a_failed_reindex_of_a_replaced_document_puts_back_the_old_one_in_the_index_too(
    demo_runtime: Runtime, tmp_path: Path
) -> None:
    kb = demo_runtime.settings.kb_dir
    target = kb / "docs" / "tarif-prabayar.md"
    old_bytes = target.read_bytes()
    old_texts = sorted(r.text for c in read_document(target, "docs/tarif-prabayar.md").chunks for r in chunk_records(c))
    assert indexed_texts(demo_runtime, "docs/tarif-prabayar.md") == old_texts
    upload = tmp_path / "tarif-prabayar.md"
    upload.write_text("# Tarif baru\n\n## Telepon\n\nRp1 per detik ke semua operator.\n", encoding="utf-8")
    reindex = failing_after(LiveReindexer(demo_runtime.engine, kb))
    with pytest.raises(UploadRejectedError, match="refresh failed.*previous version"):
        store_document(upload, upload.name, kb, max_bytes=LIMIT, replace=True, on_saved=reindex)
    assert target.read_bytes() == old_bytes
    assert indexed_texts(demo_runtime, "docs/tarif-prabayar.md") == old_texts


def test_a_failed_reindex_of_a_new_document_leaves_nothing_of_it_in_the_index(
    demo_runtime: Runtime, tmp_path: Path
) -> None:
    kb = demo_runtime.settings.kb_dir
    upload = tmp_path / "Kartu Pelajar.md"
    upload.write_text("# Kartu Pelajar\n\n## Syarat\n\nTunjukkan kartu pelajar di GraPARI.\n", encoding="utf-8")
    reindex = failing_after(LiveReindexer(demo_runtime.engine, kb))
    with pytest.raises(UploadRejectedError, match="refresh failed"):
        store_document(upload, upload.name, kb, max_bytes=LIMIT, replace=False, on_saved=reindex)
    assert not (kb / "docs" / "kartu-pelajar.md").exists()
    assert indexed_texts(demo_runtime, "docs/kartu-pelajar.md") == []
