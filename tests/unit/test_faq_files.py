"""Reading FAQ files: YAML (a list, or a mapping with `faq:`) and CSV, and every kind of bad file, named with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.faq_files import MAX_FILE_BYTES, FaqEntry, read_faq_file

YAML_ENTRIES = """\
- id: cek-pulsa
  question: Bagaimana cara cek sisa pulsa?
  alternates:
    - gmn cek pulsa
    - how do I check my credit
  answer: Tekan *123# lalu pilih Info Pulsa.
  answer_en: Dial *123# and choose Credit Info.
  tags: [pulsa, prabayar]

- id: isi-pulsa
  question: Bagaimana cara isi pulsa?
  answer: Beli voucher di toko terdekat.
"""

CSV_ENTRIES = """\
id,question,alternates,answer,answer_en,tags
cek-pulsa,Bagaimana cara cek sisa pulsa?,gmn cek pulsa|how do I check my credit,Tekan *123# lalu pilih Info Pulsa.,Dial *123# and choose Credit Info.,pulsa|prabayar
isi-pulsa,Bagaimana cara isi pulsa?,,Beli voucher di toko terdekat.,,
"""

CEK_PULSA = {
    "id": "cek-pulsa",
    "question": "Bagaimana cara cek sisa pulsa?",
    "alternates": ["gmn cek pulsa", "how do I check my credit"],
    "answer": "Tekan *123# lalu pilih Info Pulsa.",
    "answer_en": "Dial *123# and choose Credit Info.",
    "tags": ["pulsa", "prabayar"],
}
ISI_PULSA = {
    "id": "isi-pulsa",
    "question": "Bagaimana cara isi pulsa?",
    "alternates": [],
    "answer": "Beli voucher di toko terdekat.",
    "answer_en": None,
    "tags": [],
}


def read(tmp_path: Path, name: str, text: str | bytes) -> tuple[list[FaqEntry], list[str]]:
    """Write one file and read it; the problems come back as the text a user would see."""
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    result = read_faq_file(path, f"faq/{name}")
    return result.entries, [str(p) for p in result.problems]


def test_yaml_top_level_list_gives_every_field_and_the_line_of_each_entry(tmp_path: Path) -> None:
    entries, problems = read(tmp_path, "pulsa.yaml", YAML_ENTRIES)
    assert problems == []
    assert [e.content() for e in entries] == [CEK_PULSA, ISI_PULSA]
    assert [(e.source, e.line) for e in entries] == [("faq/pulsa.yaml", 1), ("faq/pulsa.yaml", 10)]


def test_yaml_mapping_with_faq_list_reads_the_same_entries(tmp_path: Path) -> None:
    nested = "# Pulsa\nversion: 1\nfaq:\n" + "".join(
        f"  {line}\n" if line else "\n" for line in YAML_ENTRIES.splitlines()
    )
    entries, problems = read(tmp_path, "pulsa.yml", nested)
    assert problems == []
    assert [e.content() for e in entries] == [CEK_PULSA, ISI_PULSA]
    assert [e.line for e in entries] == [4, 13]


def test_csv_splits_alternates_and_tags_on_pipes_and_reports_row_lines(tmp_path: Path) -> None:
    entries, problems = read(tmp_path, "pulsa.csv", CSV_ENTRIES)
    assert problems == []
    assert [e.content() for e in entries] == [CEK_PULSA, ISI_PULSA]
    assert [e.line for e in entries] == [2, 3]


def test_csv_with_byte_order_mark_and_blank_rows_is_read(tmp_path: Path) -> None:
    entries, problems = read(tmp_path, "excel.csv", ("\ufeff" + CSV_ENTRIES + ",,,,,\n").encode("utf-8"))
    assert problems == []
    assert [e.id for e in entries] == ["cek-pulsa", "isi-pulsa"]


@pytest.mark.fault("malformed YAML", "named with its file and line")
@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("faq:\n  - id: a\n    question: q\n    answer: [belum ditutup\n", 5, "malformed YAML"),
        ("- id: a\n  question: 'kutip tidak ditutup\n  answer: b\n", 4, "malformed YAML"),
        ("- id: a\n\tquestion: tab\n", 2, "malformed YAML"),
        ("- id: a\n  id: b\n  question: q\n  answer: c\n", 2, 'duplicate key "id"'),
    ],
    ids=["unclosed-flow", "unclosed-quote", "tab", "duplicate-key"],
)
def test_malformed_yaml_names_the_file_and_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    entries, problems = read(tmp_path, "rusak.yaml", text)
    assert entries == []
    assert len(problems) == 1
    assert problems[0].startswith(f"faq/rusak.yaml:{line}: ")
    assert fragment in problems[0]


@pytest.mark.parametrize("field", ["id", "question", "answer"])
def test_yaml_entry_missing_a_required_field_is_named_with_its_line(tmp_path: Path, field: str) -> None:
    fields = {"id": "ada", "question": "Ada pertanyaan?", "answer": "Ada jawaban."}
    broken = "\n".join(f"  {k}: {v}" if k != field else f"  {k}: ''" for k, v in fields.items())
    text = "- id: baik\n  question: Baik?\n  answer: Ya.\n-" + broken[1:] + "\n"
    entries, problems = read(tmp_path, "kurang.yaml", text)
    assert [e.id for e in entries] == ["baik"]
    assert len(problems) == 1
    assert problems[0].startswith("faq/kurang.yaml:4: ")
    assert problems[0].endswith(f"is missing {field}")


def test_csv_row_missing_a_required_value_is_named_with_its_line(tmp_path: Path) -> None:
    text = CSV_ENTRIES + "tanpa-jawaban,Kenapa?,,,,\n"
    entries, problems = read(tmp_path, "kurang.csv", text)
    assert [e.id for e in entries] == ["cek-pulsa", "isi-pulsa"]
    assert problems == ["faq/kurang.csv:4: entry 'tanpa-jawaban' is missing answer"]


STRAY_QUOTES = {
    # An opening quote never closed: csv would read every later row into that one cell.
    "unclosed": 'a,Cara A?,,"Tekan *1# lalu pilih,,\nb,Cara B?,,Tekan *2#.,,\nc,Cara C?,,Tekan *3#.,,\n',
    # Closed rows later by a stray quote that more text follows.
    "closed-mid-text": 'a,Cara A?,,"Tekan *1# lalu pilih,,\nb,Cara B?,,Tekan "OK".,,\nc,Cara C?,,Tekan *3#.,,\n',
    # Closed rows later in another column, right before a comma: one row of the wrong width.
    "closed-at-comma": 'a,Cara A?,,"Tekan *1# lalu pilih,,\nb,Cara B?",,Tekan *2#.,,\nc,Cara C?,,Tekan *3#.,,\n',
}


@pytest.mark.fault("a stray quote in a CSV file", "named at its line; no row after it is swallowed")
@pytest.mark.parametrize("rows", STRAY_QUOTES.values(), ids=STRAY_QUOTES.keys())
def test_a_stray_quote_is_named_at_its_line_instead_of_swallowing_the_rows_after_it(tmp_path: Path, rows: str) -> None:
    entries, problems = read(tmp_path, "kutip.csv", CSV_ENTRIES + rows)
    assert len(problems) == 1 and problems[0].startswith("faq/kutip.csv:4: "), problems
    assert "quote" in problems[0]
    assert all("Cara B?" not in e.answer for e in entries)


def test_a_quote_inside_an_unquoted_cell_and_a_multiline_quoted_cell_are_fine(tmp_path: Path) -> None:
    rows = 'a,Apa itu "Kabari"?,,"Baris satu,\nbaris dua.",,\nb,Cara B?,,Tekan *2#.,,\n'
    entries, problems = read(tmp_path, "kutip.csv", CSV_ENTRIES + rows)
    assert problems == []
    assert [(e.id, e.question, e.answer, e.line) for e in entries[2:]] == [
        ("a", 'Apa itu "Kabari"?', "Baris satu,\nbaris dua.", 4),
        ("b", "Cara B?", "Tekan *2#.", 6),
    ]


def test_csv_without_a_required_column_is_refused(tmp_path: Path) -> None:
    entries, problems = read(tmp_path, "kolom.csv", "id,question,jawaban\na,b,c\n")
    assert entries == []
    assert problems == ["faq/kolom.csv:1: CSV header lacks column(s): answer"]


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("  id: spasi di id\n  question: q\n  answer: a\n", "id 'spasi di id' must be letters"),
        ("  id: a\n  question: q\n  answer: a\n  alternates: {x: y}\n", "alternates and tags must be lists of text"),
        ("  id: a\n  question: {x: y}\n  answer: a\n", "question must be text"),
    ],
    ids=["bad-id", "alternates-mapping", "question-mapping"],
)
def test_wrong_field_shapes_are_refused(tmp_path: Path, entry: str, fragment: str) -> None:
    entries, problems = read(tmp_path, "bentuk.yaml", "-" + entry[1:])
    assert entries == []
    assert len(problems) == 1 and problems[0].startswith("faq/bentuk.yaml:1: ") and fragment in problems[0]


@pytest.mark.parametrize("text", ["key: value\n", "hanya teks\n", "faq: bukan daftar\n"])
def test_yaml_that_is_neither_a_list_nor_a_faq_mapping_is_refused(tmp_path: Path, text: str) -> None:
    entries, problems = read(tmp_path, "lain.yaml", text)
    assert entries == []
    assert problems == ["faq/lain.yaml:1: expected a list of FAQ entries, or a mapping with a 'faq:' list"]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("kosong.yaml", ""),
        ("komentar.yaml", "# belum ada entri\n"),
        ("kosong.csv", ""),
        ("judul.csv", "id,question,answer\n"),
    ],
)
def test_empty_files_hold_no_entries_and_no_problems(tmp_path: Path, name: str, text: str) -> None:
    assert read(tmp_path, name, text) == ([], [])


@pytest.mark.parametrize("name", ["gambar.yaml", "gambar.csv"])
def test_binary_file_is_refused(tmp_path: Path, name: str) -> None:
    entries, problems = read(tmp_path, name, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert (entries, problems) == ([], [f"faq/{name}: file is binary, not text"])


def test_non_utf8_file_is_refused_at_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    text = "- id: kafe\n  question: Wifi di kafe?\n  answer: Ada di café kami.\n".encode("cp1252")
    entries, problems = read(tmp_path, "latin.yaml", text)
    assert entries == []
    assert len(problems) == 1
    assert problems[0].startswith("faq/latin.yaml:3: file is not UTF-8 text")


def test_file_over_the_size_limit_is_refused_without_being_read(tmp_path: Path) -> None:
    path = tmp_path / "besar.yaml"
    with path.open("wb") as sparse:
        sparse.truncate(MAX_FILE_BYTES + 1)
    result = read_faq_file(path, "faq/besar.yaml")
    assert result.entries == []
    assert [str(p) for p in result.problems] == [
        f"faq/besar.yaml: file is too large ({MAX_FILE_BYTES + 1} bytes; the limit is {MAX_FILE_BYTES})"
    ]
