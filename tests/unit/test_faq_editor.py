"""The web editor's write path: minimal diffs, comments kept, ingest's validation, refused concurrent saves."""

from __future__ import annotations

import difflib
import errno
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.faq import fields_of
from support.workspace import DEMO_KB

from ingest.faq_editor import EntryConflictError, EntryInvalidError, FaqEditError, FaqEditor, entry_version
from ingest.faq_files import FaqEntry, read_faq_file
from ingest.problems import KnowledgeBaseError, Problem

MAPPING_FILE = """\
# Pulsa FAQ. Keep ids stable.
faq:
  - id: cek-pulsa
    question: Bagaimana cara cek pulsa?
    alternates:
      - gmn cek pulsa
      - how do I check my credit   # English
    answer: Tekan *123*1# lalu panggil.
    answer_en: Dial *123*1# and call.
    tags: [pulsa, cek]

  # Transfers between numbers.
  - id: transfer-pulsa
    question: "Bagaimana cara transfer pulsa?"
    answer: Kirim SMS TRANSFER ke 3636.
    tags: [pulsa, transfer]

  - id: pulsa-darurat
    question: Apa itu pulsa darurat?
    answer: Pinjaman pulsa yang dibayar saat isi ulang berikutnya.
"""

LIST_FILE = """\
# Masa aktif (a top-level list).

- id: cek-masa-aktif
  question: Bagaimana cara cek masa aktif?
  alternates:
    - masa aktif sampai kapan
  answer: Tekan *123*1#.
  tags: [masa aktif]
"""

CSV_FILE = (
    "id,question,alternates,answer,answer_en,tags\n"
    'nada-sambung,Cara pasang nada sambung?,rbt|nadaku,"Tekan *123*4#, pilih NadaKu.",,layanan|nada\n'
    "kabari,Apa itu Kabari?,notif miscall,Layanan notifikasi panggilan tak terjawab.,,layanan\n"
)


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    (root / "faq").mkdir(parents=True)
    (root / "faq" / "pulsa.yaml").write_text(MAPPING_FILE, encoding="utf-8")
    (root / "faq" / "masa-aktif.yaml").write_text(LIST_FILE, encoding="utf-8")
    (root / "faq" / "layanan.csv").write_text(CSV_FILE, encoding="utf-8")
    return root


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_editing_an_answer_changes_only_that_line(kb: Path) -> None:
    editor = FaqEditor(kb)
    fields, version = fields_of(editor, "transfer-pulsa")
    fields["answer"] = "Kirim SMS TRANSFER <nomor> <nominal> ke 3636."
    change = editor.save(fields, version=version)
    after = (kb / "faq" / "pulsa.yaml").read_text(encoding="utf-8")
    assert change.action == "updated" and change.file == "faq/pulsa.yaml"
    assert changed_lines(MAPPING_FILE, after) == [
        "-    answer: Kirim SMS TRANSFER ke 3636.",
        "+    answer: Kirim SMS TRANSFER <nomor> <nominal> ke 3636.",
    ]
    assert '"Bagaimana cara transfer pulsa?"' in after  # untouched values keep their quoting


def test_comments_inside_and_above_an_entry_survive_an_edit(kb: Path) -> None:
    editor = FaqEditor(kb)
    fields, version = fields_of(editor, "cek-pulsa")
    fields["tags"] = ["pulsa", "cek", "prabayar"]
    editor.save(fields, version=version)
    after = (kb / "faq" / "pulsa.yaml").read_text(encoding="utf-8")
    assert "      - how do I check my credit   # English\n" in after
    assert "# Pulsa FAQ. Keep ids stable.\n" in after and "  # Transfers between numbers.\n" in after
    assert changed_lines(MAPPING_FILE, after) == ["-    tags: [pulsa, cek]", "+    tags: [pulsa, cek, prabayar]"]


def test_multiline_answers_are_written_as_readable_blocks(kb: Path) -> None:
    editor = FaqEditor(kb)
    fields, version = fields_of(editor, "pulsa-darurat")
    fields["answer"] = "Langkah 1: tekan *123#.\nLangkah 2: pilih Pulsa Darurat."
    editor.save(fields, version=version)
    after = (kb / "faq" / "pulsa.yaml").read_text(encoding="utf-8")
    assert "    answer: |\n      Langkah 1: tekan *123#.\n      Langkah 2: pilih Pulsa Darurat.\n" in after
    assert editor.get("pulsa-darurat").entry.answer == fields["answer"]


# What `str.splitlines()` takes for a line break; YAML and CSV break lines only at \n (and \r\n).
LINE_BREAKS = ["\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.fault("U+2028, \\x85, \\x0c… in an answer", "saved as a newline; later entries stay editable")
@pytest.mark.parametrize(
    "first, later", [("cek-pulsa", "pulsa-darurat"), ("nada-sambung", "kabari")], ids=["yaml", "csv"]
)
@pytest.mark.parametrize("newline", LINE_BREAKS, ids=[ascii(c) for c in LINE_BREAKS])
def test_any_line_break_in_an_answer_is_saved_as_a_newline_and_later_entries_stay_editable(
    kb: Path, first: str, later: str, newline: str
) -> None:
    editor = FaqEditor(kb)
    fields, version = fields_of(editor, first)
    editor.save({**fields, "answer": f"Langkah 1.{newline}Langkah 2."}, version=version)
    assert editor.get(first).entry.answer == "Langkah 1.\nLangkah 2."  # what was saved reads back
    fields, version = fields_of(editor, later)
    editor.save({**fields, "answer": "Jawaban baru."}, version=version)
    assert editor.get(later).entry.answer == "Jawaban baru."
    assert editor.get(first).entry.answer == "Langkah 1.\nLangkah 2."


@pytest.mark.parametrize(
    ("name", "text", "edited"),
    [
        (
            "raw.yaml",
            "- id: a\n  question: A?\n  answer: satu\u2028dua\x85tiga\n- id: b\n  question: B?\n  answer: B.\n",
            "  answer: ",
        ),
        (
            "escaped.yaml",
            '- id: a\n  question: A?\n  answer: "satu\\Ldua\\u2029tiga"\n- id: b\n  question: B?\n  answer: B.\n',
            "  answer: ",
        ),
        ("raw.csv", "id,question,answer\na,A?,satu\u2028dua\x0ctiga\nb,B?,B.\n", "b,B?,"),
    ],
)
def test_files_written_by_hand_with_unicode_line_breaks_take_edits(kb: Path, name: str, text: str, edited: str) -> None:
    path = kb / "faq" / name
    path.write_text(text, encoding="utf-8")
    editor = FaqEditor(kb)
    before = editor.get("a").entry.answer
    fields, version = fields_of(editor, "b")
    editor.save({**fields, "answer": "Jawaban baru."}, version=version)
    assert editor.get("b").entry.answer == "Jawaban baru." and editor.get("a").entry.answer == before
    assert changed_lines(text, path.read_text(encoding="utf-8")) == [f"-{edited}B.", f"+{edited}Jawaban baru."]


def test_deleting_takes_the_entry_and_its_comment_and_keeps_the_spacing(kb: Path) -> None:
    editor = FaqEditor(kb)
    editor.delete("transfer-pulsa", version=editor.get("transfer-pulsa").version)
    after = (kb / "faq" / "pulsa.yaml").read_text(encoding="utf-8")
    assert "transfer-pulsa" not in after and "Transfers between numbers" not in after
    assert "    tags: [pulsa, cek]\n\n  - id: pulsa-darurat\n" in after
    assert [e.id for e in read_faq_file(kb / "faq" / "pulsa.yaml", "faq/pulsa.yaml").entries] == [
        "cek-pulsa",
        "pulsa-darurat",
    ]


def test_new_entries_go_to_the_editor_file_or_the_chosen_one(kb: Path) -> None:
    editor = FaqEditor(kb)
    added = editor.save(
        {
            "id": "kuota-malam",
            "question": "Apa itu kuota malam?",
            "answer": "Kuota 00.00-06.00.",
            "alternates": ["kuota malem itu apa"],
            "tags": ["kuota"],
        },
        version=None,
    )
    assert added.action == "added" and added.file == "faq/editor.yaml"
    created = (kb / "faq" / "editor.yaml").read_text(encoding="utf-8")
    assert created.startswith("# FAQ entries added in Tanya's web editor.")
    assert (
        "faq:\n  - id: kuota-malam\n    question: Apa itu kuota malam?\n    alternates:\n      - kuota malem itu apa\n"
        in created
    )
    assert "    tags: [kuota]\n" in created

    editor.save(
        {"id": "masa-tenggang", "question": "Apa itu masa tenggang?", "answer": "Masa setelah masa aktif."},
        version=None,
        file="faq/masa-aktif.yaml",
    )
    after = (kb / "faq" / "masa-aktif.yaml").read_text(encoding="utf-8")
    assert (
        after
        == LIST_FILE + "\n- id: masa-tenggang\n  question: Apa itu masa tenggang?\n  answer: Masa setelah masa aktif.\n"
    )


def test_csv_rows_are_edited_in_place(kb: Path) -> None:
    editor = FaqEditor(kb)
    fields, version = fields_of(editor, "kabari")
    fields["answer"] = "Layanan gratis: SMS saat ada panggilan tak terjawab, kirim KABARI ke 1212."
    editor.save(fields, version=version)
    editor.save(
        {
            "id": "call-waiting",
            "question": "Cara aktifkan panggilan tunggu?",
            "answer": "Tekan *43#.",
            "alternates": ["call waiting"],
        },
        version=None,
        file="faq/layanan.csv",
    )
    lines = (kb / "faq" / "layanan.csv").read_text(encoding="utf-8").splitlines()
    assert lines[:2] == CSV_FILE.splitlines()[:2]  # the other row is byte-identical
    assert lines[2].startswith("kabari,Apa itu Kabari?,notif miscall,")
    assert lines[3] == "call-waiting,Cara aktifkan panggilan tunggu?,call waiting,Tekan *43#.,,"
    with pytest.raises(EntryInvalidError, match="cannot contain"):
        fields, version = fields_of(editor, "kabari")
        editor.save({**fields, "alternates": ["a|b"]}, version=version)


def test_ingest_rules_validate_the_entry(kb: Path) -> None:
    editor = FaqEditor(kb)
    before = (kb / "faq" / "pulsa.yaml").read_text(encoding="utf-8")
    with pytest.raises(EntryInvalidError, match="missing answer"):
        editor.save({"id": "tanpa-jawaban", "question": "Tanpa jawaban?", "answer": "  "}, version=None)
    with pytest.raises(EntryInvalidError, match="must be letters"):
        editor.save({"id": "id dengan spasi", "question": "Q?", "answer": "A."}, version=None)
    with pytest.raises(EntryConflictError, match="already exists"):
        editor.save({"id": "kabari", "question": "Q?", "answer": "A."}, version=None, file="faq/pulsa.yaml")
    with pytest.raises(FaqEditError, match="not an FAQ file"):
        editor.save({"id": "baru", "question": "Q?", "answer": "A."}, version=None, file="../outside.yaml")
    assert (kb / "faq" / "pulsa.yaml").read_text(encoding="utf-8") == before
    assert not (kb / "faq" / "editor.yaml").exists()


@pytest.mark.fault("two editors saving one entry at once", "the second is refused, the first kept")
def test_the_second_of_two_concurrent_saves_is_refused(kb: Path) -> None:
    editor = FaqEditor(kb)
    first, version = fields_of(editor, "cek-pulsa")
    second = dict(first)  # both editors opened the same version
    first["answer"] = "Jawaban editor pertama."
    second["answer"] = "Jawaban editor kedua."
    editor.save(first, version=version)
    with pytest.raises(EntryConflictError, match="changed by someone else"):
        editor.save(second, version=version)
    with pytest.raises(EntryConflictError, match="changed by someone else"):
        editor.delete("cek-pulsa", version=version)
    assert editor.get("cek-pulsa").entry.answer == "Jawaban editor pertama."


def test_a_change_made_on_disk_also_counts_as_a_concurrent_edit(kb: Path) -> None:
    editor = FaqEditor(kb)
    fields, version = fields_of(editor, "transfer-pulsa")
    path = kb / "faq" / "pulsa.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("ke 3636.", "ke 3636 (gratis)."), encoding="utf-8")
    with pytest.raises(EntryConflictError):
        editor.save({**fields, "question": "Cara transfer pulsa?"}, version=version)


def test_alternates_are_added_once(kb: Path) -> None:
    editor = FaqEditor(kb)
    change = editor.add_alternates("cek-pulsa", ["sisa pulsa brp", "GMN  CEK PULSA", "sisa pulsa brp"])
    assert change.action == "updated"
    assert editor.get("cek-pulsa").entry.alternates == ("gmn cek pulsa", "how do I check my credit", "sisa pulsa brp")
    assert editor.add_alternates("cek-pulsa", ["sisa pulsa brp"]).action == "unchanged"


@pytest.mark.fault("the re-index after a save fails", "the old file is back, and re-indexed")
def test_a_failed_reindex_restores_the_file(kb: Path) -> None:
    calls: list[Path] = []

    def reindex(path: Path) -> None:
        calls.append(path)
        if len(calls) == 1:
            raise KnowledgeBaseError([Problem("faq/pulsa.yaml", "duplicate id 'x' (already indexed elsewhere)")])

    editor = FaqEditor(kb, on_saved=reindex)
    fields, version = fields_of(editor, "cek-pulsa")
    with pytest.raises(EntryInvalidError, match="duplicate id"):
        editor.save({**fields, "answer": "Baru."}, version=version)
    assert (kb / "faq" / "pulsa.yaml").read_text(encoding="utf-8") == MAPPING_FILE
    assert calls == [kb / "faq" / "pulsa.yaml"] * 2  # the restored file was re-indexed too


def test_a_failed_reindex_of_a_new_file_removes_it_and_reindexes_its_folder(kb: Path) -> None:
    calls: list[Path] = []

    def reindex(path: Path) -> None:
        calls.append(path)
        if len(calls) == 1:
            raise RuntimeError("store unavailable")

    editor = FaqEditor(kb, on_saved=reindex)
    with pytest.raises(
        FaqEditError,
        match=r"faq/editor.yaml could not be indexed \(store unavailable\); the new file was taken out again",
    ):
        editor.save({"id": "baru", "question": "Baru?", "answer": "Ya."}, version=None)
    assert not (kb / "faq" / "editor.yaml").exists()
    assert calls == [kb / "faq" / "editor.yaml", kb / "faq"]  # the folder, so the index drops what it took


def test_versions_follow_content_not_location() -> None:
    one = FaqEntry("a", "Q?", "A.")
    assert entry_version(one) == entry_version(FaqEntry("a", "Q?", "A.", source="elsewhere.yaml"))
    assert entry_version(one) != entry_version(FaqEntry("a", "Q?", "A!"))


@pytest.mark.parametrize("name", sorted(p.name for p in (DEMO_KB / "faq").glob("*") if p.suffix in (".yaml", ".csv")))
def test_every_demo_file_takes_an_edit_with_a_minimal_diff(name: str, tmp_path: Path) -> None:
    shutil.copytree(DEMO_KB / "faq", tmp_path / "faq")
    editor = FaqEditor(tmp_path)
    path = tmp_path / "faq" / name
    before = path.read_text(encoding="utf-8")
    first = read_faq_file(path, f"faq/{name}").entries[0]
    fields, version = fields_of(editor, first.id)
    editor.save({**fields, "answer": "Jawaban baru dari editor."}, version=version)
    diff = changed_lines(before, path.read_text(encoding="utf-8"))
    assert len(diff) == 2 and diff[0].startswith("-") and "Jawaban baru dari editor." in diff[1]


def test_deleting_the_last_entry_leaves_a_valid_empty_file(kb: Path) -> None:
    editor = FaqEditor(kb)
    added = editor.save({"id": "satu-satunya", "question": "Q?", "answer": "A."}, version=None)
    editor.delete("satu-satunya", version=added.version or "")
    text = (kb / "faq" / "editor.yaml").read_text(encoding="utf-8")
    assert text.endswith("\nfaq: []\n") and text.startswith("# FAQ entries added")
    assert read_faq_file(kb / "faq" / "editor.yaml", "faq/editor.yaml").problems == []
    editor.save({"id": "lagi", "question": "Q2?", "answer": "A2."}, version=None)
    assert [e.entry.id for e in editor.entries() if e.file == "faq/editor.yaml"] == ["lagi"]


@pytest.mark.fault("two editors saving two entries of one file at once", "both land; the rest of the file intact")
def test_two_editors_saving_two_entries_of_one_file_at_once_both_land(kb: Path) -> None:
    editor = FaqEditor(kb)
    changes = {"cek-pulsa": "Jawaban baru cek pulsa.", "transfer-pulsa": "Jawaban baru transfer."}
    opened = {entry_id: fields_of(editor, entry_id) for entry_id in changes}
    start = threading.Barrier(len(changes))

    def save(entry_id: str) -> None:
        fields, version = opened[entry_id]
        start.wait()
        editor.save({**fields, "answer": changes[entry_id]}, version=version)

    with ThreadPoolExecutor(len(changes)) as pool:
        list(pool.map(save, changes))
    assert {entry_id: editor.get(entry_id).entry.answer for entry_id in changes} == changes
    assert editor.get("pulsa-darurat").entry.answer.startswith("Pinjaman pulsa")  # the file's other entry is intact


@pytest.mark.fault("disk full on save", "a plain error; the file as it was; the next save works")
def test_a_full_disk_refuses_the_save_plainly_and_leaves_the_file_as_it_was(
    kb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = FaqEditor(kb)
    fields, version = fields_of(editor, "cek-pulsa")
    real_fdopen = os.fdopen

    def full_disk(descriptor: int, *args: object, **kwargs: object) -> object:
        handle = real_fdopen(descriptor, *args, **kwargs)  # type: ignore[call-overload]

        def write(_data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        handle.write = write
        return handle

    monkeypatch.setattr("ingest.reindexed_write.os.fdopen", full_disk)
    with pytest.raises(FaqEditError, match="No space left on device.*nothing was saved"):
        editor.save({**fields, "answer": "Baru."}, version=version)
    monkeypatch.undo()
    assert (kb / "faq" / "pulsa.yaml").read_text(encoding="utf-8") == MAPPING_FILE
    assert sorted(p.name for p in (kb / "faq").iterdir()) == ["layanan.csv", "masa-aktif.yaml", "pulsa.yaml"]
    assert editor.save({**fields, "answer": "Baru."}, version=version).action == "updated"  # and it works after
