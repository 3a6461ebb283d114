"""Reading product documents (Markdown, plain text, HTML, PDF) into chunks that keep their title and section."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ingest.documents import CHUNK_CHARS, MAX_FILE_BYTES, DocumentChunk, read_document

CHROMIUM = Path("/usr/bin/chromium")


def pdf_bytes(pages: list[list[str]], stream_filter: str | None = None) -> bytes:
    """A minimal valid PDF written by hand: one Helvetica text object per page, one line per string."""
    count = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for number, lines in enumerate(pages):
        escaped = (line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines)
        content = f"BT /F1 12 Tf 16 TL 72 720 Td {' '.join(f'({line}) Tj T*' for line in escaped)} ET".encode("latin-1")
        resources = "<< /Font << /F1 3 0 R >> >>"
        page = f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources {resources} /Contents {5 + 2 * number} 0 R >>"
        objects.append(page.encode())
        filter_entry = f" /Filter /{stream_filter}" if stream_filter else ""
        objects.append(f"<< /Length {len(content)}{filter_entry} >>\nstream\n".encode() + content + b"\nendstream")
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def read(tmp_path: Path, name: str, content: str | bytes) -> tuple[list[DocumentChunk], list[str]]:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    result = read_document(path, f"docs/{name}")
    return result.chunks, [str(p) for p in result.problems]


def sections(chunks: list[DocumentChunk]) -> list[tuple[str, str, str]]:
    return [(c.title, c.section, c.text) for c in chunks]


def test_markdown_chunks_keep_the_title_and_their_heading(tmp_path: Path) -> None:
    markdown = (
        "# Tarif Prabayar\n\nSemua harga termasuk PPN.\n\n"
        "## Paket Harian\n\n1 GB berlaku 1 hari, Rp5.000.\n\n"
        "### Paket Malam\n\nKuota malam berlaku pukul 00.00-06.00.\n\n"
        "## Telepon\n\nRp13 per detik ke sesama Nusantel.\n"
    )
    chunks, problems = read(tmp_path, "tarif-prabayar.md", markdown)
    assert problems == []
    assert sections(chunks) == [
        ("Tarif Prabayar", "Tarif Prabayar", "Semua harga termasuk PPN."),
        ("Tarif Prabayar", "Paket Harian", "1 GB berlaku 1 hari, Rp5.000."),
        ("Tarif Prabayar", "Paket Malam", "Kuota malam berlaku pukul 00.00-06.00."),
        ("Tarif Prabayar", "Telepon", "Rp13 per detik ke sesama Nusantel."),
    ]
    assert [c.index for c in chunks] == [0, 1, 2, 3]
    assert chunks[1].ref == "docs/tarif-prabayar.md#Paket Harian"
    assert {c.source for c in chunks} == {"docs/tarif-prabayar.md"}


def test_markdown_without_a_top_heading_is_titled_after_its_file(tmp_path: Path) -> None:
    chunks, _ = read(
        tmp_path, "syarat_dan-ketentuan.md", "Berlaku sejak 2024.\n\n## Pembatalan\n\nGratis dalam 7 hari.\n"
    )
    assert sections(chunks) == [
        ("Syarat Dan Ketentuan", "Syarat Dan Ketentuan", "Berlaku sejak 2024."),
        ("Syarat Dan Ketentuan", "Pembatalan", "Gratis dalam 7 hari."),
    ]


def test_long_section_is_split_and_every_piece_keeps_title_and_section(tmp_path: Path) -> None:
    sentences = [f"Kalimat nomor {n} menjelaskan aturan kuota roaming di negara tujuan." for n in range(80)]
    chunks, _ = read(tmp_path, "roaming.md", "# Roaming\n\n## Aturan Kuota\n\n" + " ".join(sentences) + "\n")
    assert len(chunks) >= 4
    assert all(len(c.text) <= CHUNK_CHARS for c in chunks)
    assert {(c.title, c.section) for c in chunks} == {("Roaming", "Aturan Kuota")}
    joined = " ".join(c.text for c in chunks)
    assert all(sentence in joined for sentence in sentences)  # nothing lost between pieces


def test_plain_text_headings_come_from_underlines_and_capitals(tmp_path: Path) -> None:
    text = (
        "Panduan Jaringan\n================\nPengantar singkat.\n\n"
        "PENGATURAN APN\nAPN: internet\n\n"
        "Sinyal Lemah\n------------\nNyalakan ulang ponsel.\n"
    )
    chunks, problems = read(tmp_path, "jaringan.txt", text)
    assert problems == []
    assert sections(chunks) == [
        ("Panduan Jaringan", "Panduan Jaringan", "Pengantar singkat."),
        ("Panduan Jaringan", "Pengaturan Apn", "APN: internet"),
        ("Panduan Jaringan", "Sinyal Lemah", "Nyalakan ulang ponsel."),
    ]


def test_html_keeps_headings_and_text_and_drops_navigation_scripts_and_footer(tmp_path: Path) -> None:
    html = (
        "<!doctype html><html><head><title>abaikan</title><style>h1{color:red}</style></head><body>"
        "<nav>Menu Beranda</nav><h1>Syarat Pascabayar</h1><p>Pengantar umum.</p>"
        "<h2>Batas Kredit</h2><p>Batas awal Rp500.000.</p><ul><li>Naik otomatis</li><li>Bisa <b>diajukan</b></li></ul>"
        "<h3>Deposit</h3><p>Deposit dikembalikan setelah 6 bulan.</p>"
        "<script>var rahasia = 1;</script><footer>Hak cipta Nusantel</footer></body></html>"
    )
    chunks, problems = read(tmp_path, "pascabayar.html", html)
    assert problems == []
    assert sections(chunks) == [
        ("Syarat Pascabayar", "Syarat Pascabayar", "Pengantar umum."),
        ("Syarat Pascabayar", "Batas Kredit", "Batas awal Rp500.000.  \n- Naik otomatis  \n- Bisa diajukan"),
        ("Syarat Pascabayar", "Deposit", "Deposit dikembalikan setelah 6 bulan."),
    ]
    assert not any(word in c.text for c in chunks for word in ("Menu", "rahasia", "Hak cipta", "abaikan"))


def test_hand_written_pdf_is_chunked_per_page_under_its_first_line(tmp_path: Path) -> None:
    pages = [
        ["Panduan Roaming Nusantel", "Aktifkan roaming lewat *123*5# (gratis)."],
        ["Tarif roaming Malaysia Rp25.000 per hari."],
    ]
    chunks, problems = read(tmp_path, "roaming.pdf", pdf_bytes(pages))
    assert problems == []
    assert sections(chunks) == [
        ("Panduan Roaming Nusantel", "page 1", "Panduan Roaming Nusantel\nAktifkan roaming lewat *123*5# (gratis)."),
        ("Panduan Roaming Nusantel", "page 2", "Tarif roaming Malaysia Rp25.000 per hari."),
    ]
    assert chunks[1].ref == "docs/roaming.pdf#page 2"


def test_pdf_printed_by_chromium_is_read(tmp_path: Path) -> None:
    html = tmp_path / "brosur.html"
    html.write_text(
        "<html><body><h1>Brosur Nusantel Halo</h1><p>Paket Halo 50 berisi kuota 50 GB dan telepon 300 menit.</p>"
        "<p style='page-break-before: always'>Tagihan terbit setiap tanggal 5.</p></body></html>",
        encoding="utf-8",
    )
    pdf = tmp_path / "brosur.pdf"
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'chromium'}",
        f"--print-to-pdf={pdf}", "--no-pdf-header-footer", html.as_uri(),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    result = read_document(pdf, "docs/brosur.pdf")
    assert result.problems == []
    assert [(c.title, c.section) for c in result.chunks] == [
        ("Brosur Nusantel Halo", "page 1"),
        ("Brosur Nusantel Halo", "page 2"),
    ]
    assert "kuota 50 GB dan telepon 300 menit" in result.chunks[0].text
    assert "Tagihan terbit setiap tanggal 5." in result.chunks[1].text


@pytest.mark.parametrize(
    "content",
    [
        bytes(range(256)) * 8,
        b"%PDF-1.7\n" + bytes((n * 37) % 256 for n in range(4000)),
        pdf_bytes([["Terpotong di tengah jalan"]])[:150],
        pdf_bytes([["Filter tidak dikenal"]], stream_filter="TanyaDecode"),
    ],
    ids=["garbage", "garbage-with-header", "truncated", "unknown-stream-filter"],
)
def test_unreadable_pdf_is_a_problem_not_a_crash(tmp_path: Path, content: bytes) -> None:
    chunks, problems = read(tmp_path, "rusak.pdf", content)
    assert chunks == []
    assert len(problems) == 1 and problems[0].startswith("docs/rusak.pdf: unreadable PDF: ")


def test_pdf_without_text_asks_for_a_text_version(tmp_path: Path) -> None:
    chunks, problems = read(tmp_path, "pindaian.pdf", pdf_bytes([[]]))
    assert (chunks, problems) == ([], ["docs/pindaian.pdf: PDF has no extractable text (a scan?); add a text version"])


@pytest.mark.parametrize("name", ["gambar.md", "gambar.txt", "gambar.html"])
def test_binary_document_is_refused(tmp_path: Path, name: str) -> None:
    chunks, problems = read(tmp_path, name, b"GIF89a\x01\x00\x01\x00\x00\xff\x00" + bytes(range(256)))
    assert (chunks, problems) == ([], [f"docs/{name}: file is binary, not text"])


def test_non_utf8_document_is_refused_at_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    chunks, problems = read(tmp_path, "kafe.txt", "Judul\n\nMenu café dan wifi.\n".encode("latin-1"))
    assert chunks == []
    assert len(problems) == 1 and problems[0].startswith("docs/kafe.txt:3: file is not UTF-8 text")


@pytest.mark.parametrize("name", ["besar.md", "besar.pdf"])
def test_document_over_the_size_limit_is_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with path.open("wb") as sparse:
        sparse.truncate(MAX_FILE_BYTES + 1)
    result = read_document(path, f"docs/{name}")
    assert result.chunks == []
    assert len(result.problems) == 1 and "too large" in result.problems[0].message
    assert str(MAX_FILE_BYTES) in result.problems[0].message


@pytest.mark.parametrize("name", ["kosong.md", "kosong.txt", "kosong.html"])
def test_empty_text_document_has_no_chunks_and_no_problem(tmp_path: Path, name: str) -> None:
    assert read(tmp_path, name, "") == ([], [])
