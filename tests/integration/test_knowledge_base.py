"""Loading a whole knowledge base: which files are read, what scope a run covers, and all problems reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.workspace import build_index, make_settings

from bot.retrieval.embedder import load_embedder
from bot.retrieval.knowledge_index import KnowledgeIndex
from ingest.knowledge_base import load_knowledge_base
from ingest.problems import KnowledgeBaseError

# These tests answer with, or index with, the demo's tuned model: built first when this machine lacks it.
pytestmark = pytest.mark.usefixtures("tuned_model")

PULSA_YAML = """\
faq:
  - id: cek-pulsa
    question: Bagaimana cara cek sisa pulsa?
    answer: Tekan *123#.
  - id: isi-pulsa
    question: Bagaimana cara isi pulsa?
    answer: Beli voucher.
"""
ROAMING_CSV = (
    "id,question,alternates,answer,answer_en,tags\nroaming,Cara aktifkan roaming?,roaming gmn,Tekan *123*5#.,,roaming\n"
)
GLOSSARY = "synonyms:\n  pulsa: [pulsah, credit]\n  kartu sim: [simcard, sim card]\n"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def problems_of(paths: list[Path], root: Path) -> list[str]:
    with pytest.raises(KnowledgeBaseError) as caught:
        load_knowledge_base(paths, root)
    return [str(p) for p in caught.value.problems]


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    return write(
        tmp_path / "kb",
        {
            "faq/pulsa.yaml": PULSA_YAML,
            "faq/roaming.csv": ROAMING_CSV,
            "docs/tarif.md": "# Tarif\n\n## Telepon\n\nRp13 per detik.\n",
            "docs/jaringan.txt": "JARINGAN 5G\nTersedia di kota besar.\n",
            "glossary.yaml": GLOSSARY,
            "README.md": "# Cara menulis kb\n\nBukan dokumen produk.\n",
            "docs/foto-toko.png": b"\x89PNG\r\n\x1a\n\x00\x00",
            ".draft.yaml": "- id: draf\n  question: Draf?\n  answer: Belum.\n",
            "faq/.git/old.yaml": "- id: lama\n  question: Lama?\n  answer: Ya.\n",
        },
    )


def test_folder_gives_entries_chunks_and_glossary_named_relative_to_the_root(kb: Path) -> None:
    loaded = load_knowledge_base([kb], kb)
    assert [(e.id, e.source, e.line) for e in loaded.entries] == [
        ("cek-pulsa", "faq/pulsa.yaml", 2),
        ("isi-pulsa", "faq/pulsa.yaml", 5),
        ("roaming", "faq/roaming.csv", 2),
    ]
    assert sorted((c.source, c.title, c.section) for c in loaded.chunks) == [
        ("docs/jaringan.txt", "Jaringan", "Jaringan 5G"),
        ("docs/tarif.md", "Tarif", "Telepon"),
    ]
    assert loaded.glossary is not None
    assert loaded.glossary.as_mapping() == {"pulsa": ["pulsah", "credit"], "kartu sim": ["simcard", "sim card"]}


def test_readme_hidden_files_and_unknown_types_are_not_content(kb: Path) -> None:
    loaded = load_knowledge_base([kb], kb)
    sources = {e.source for e in loaded.entries} | {c.source for c in loaded.chunks}
    assert sources == {"faq/pulsa.yaml", "faq/roaming.csv", "docs/tarif.md", "docs/jaringan.txt"}


def test_knowledge_base_inside_a_hidden_folder_is_still_read(tmp_path: Path) -> None:
    root = write(tmp_path / ".deploy" / "kb", {"faq/pulsa.yaml": PULSA_YAML, ".cadangan/x.yaml": "bukan: daftar\n"})
    loaded = load_knowledge_base([root], root)
    assert [e.id for e in loaded.entries] == ["cek-pulsa", "isi-pulsa"]


def test_scope_of_a_folder_run_and_of_a_single_file_run(kb: Path) -> None:
    whole = load_knowledge_base([kb], kb)
    assert whole.covers("faq/pulsa.yaml") and whole.covers("faq/deleted-since.yaml") and whole.covers("docs/x.md")

    faq_only = load_knowledge_base([kb / "faq"], kb)
    assert faq_only.covers("faq/gone.yaml")
    assert not faq_only.covers("docs/tarif.md")
    assert not faq_only.covers("faqs/other.yaml")  # a folder prefix is not enough

    one_file = load_knowledge_base([kb / "faq" / "roaming.csv"], kb)
    assert [e.id for e in one_file.entries] == ["roaming"]
    assert one_file.covers("faq/roaming.csv")
    assert not one_file.covers("faq/pulsa.yaml")


def test_duplicate_id_within_one_file_names_both_lines(tmp_path: Path) -> None:
    root = write(
        tmp_path / "kb", {"faq/pulsa.yaml": PULSA_YAML + "  - id: cek-pulsa\n    question: Lagi?\n    answer: Ya.\n"}
    )
    assert problems_of([root], root) == ["faq/pulsa.yaml:8: duplicate id 'cek-pulsa' (also at faq/pulsa.yaml:2)"]


def test_duplicate_id_across_files_names_both_files(tmp_path: Path) -> None:
    root = write(
        tmp_path / "kb",
        {"faq/pulsa.yaml": PULSA_YAML, "faq/lain.csv": "id,question,answer\nlain,Lain?,Ya.\nisi-pulsa,Isi?,Voucher.\n"},
    )
    assert problems_of([root], root) == ["faq/pulsa.yaml:5: duplicate id 'isi-pulsa' (also at faq/lain.csv:3)"]


def test_every_problem_in_every_file_is_reported_together(tmp_path: Path) -> None:
    root = write(
        tmp_path / "kb",
        {
            "faq/baik.yaml": PULSA_YAML,
            "faq/rusak.yaml": "- id: a\n  question: [tidak ditutup\n",
            "faq/kurang.csv": "id,question,answer\ntanpa-jawaban,Kenapa?,\n",
            "docs/rusak.pdf": bytes(range(256)),
            "docs/biner.md": b"\x00\x01\x02",
            "docs/latin.txt": "caf\xe9".encode("latin-1"),
        },
    )
    with pytest.raises(KnowledgeBaseError) as caught:
        load_knowledge_base([root], root)
    shown = [str(p) for p in caught.value.problems]
    assert [s.split(":")[0] for s in shown] == [
        "docs/biner.md",
        "docs/latin.txt",
        "docs/rusak.pdf",
        "faq/kurang.csv",
        "faq/rusak.yaml",
    ]
    message = str(caught.value)
    assert message.startswith("5 problem(s) in the knowledge base; the index was not changed:")
    assert all(f"  - {s}" in message for s in shown)


@pytest.mark.fault("a stray quote in a CSV file, then a sync", "the index is left as it was")
def test_a_stray_quote_in_a_csv_file_leaves_the_index_as_it_was(tmp_path: Path) -> None:
    root = write(tmp_path / "kb", {"faq/roaming.csv": ROAMING_CSV + "roaming-data,Roaming data?,,Tekan *123*6#.,,\n"})
    settings = make_settings(tmp_path)
    build_index(settings, root)  # as `tanya ingest` does: load and validate kb/, then sync the index
    broken = ROAMING_CSV.replace("Tekan *123*5#.", '"Tekan *123*5#.') + "roaming-data,Roaming data?,,Tekan *123*6#.,,\n"
    (root / "faq" / "roaming.csv").write_text(broken, encoding="utf-8")
    with pytest.raises(KnowledgeBaseError) as caught:
        build_index(settings, root)
    [problem] = caught.value.problems
    assert (problem.file, problem.line) == ("faq/roaming.csv", 2) and "never closed" in problem.message
    with KnowledgeIndex(settings, load_embedder(settings), writable=False) as index:
        indexed = {str(r.metadata["ref"]): r.metadata["answer"] for r in index.records().values()}
    assert indexed == {"roaming": "Tekan *123*5#.", "roaming-data": "Tekan *123*6#."}


def test_missing_path_is_a_problem(tmp_path: Path) -> None:
    assert problems_of([tmp_path / "tidak-ada.yaml"], tmp_path) == [
        f"{tmp_path / 'tidak-ada.yaml'}: no such file or folder"
    ]


def test_empty_files_and_an_empty_folder_load_as_nothing(tmp_path: Path) -> None:
    root = write(tmp_path / "kb", {"faq/kosong.yaml": "", "faq/kosong.csv": "", "docs/kosong.md": ""})
    loaded = load_knowledge_base([root], root)
    assert (loaded.entries, loaded.chunks, loaded.glossary) == ([], [], None)
    (tmp_path / "folder-kosong").mkdir()
    assert load_knowledge_base([tmp_path / "folder-kosong"], tmp_path).entries == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "synonyms:\n  pulsa: [credit]\n  saldo: [credit, balance]\n",
            "glossary.yaml: 'credit' is in two groups: 'pulsa' and 'saldo'",
        ),
        (
            "synonyms:\n  pulsa: [credit]\n  credit: [kredit]\n",
            "glossary.yaml: 'credit' is in two groups: 'pulsa' and 'credit'",
        ),
        ("synonyms:\n  pulsa: credit\n", "glossary.yaml: expected 'synonyms:' mapping each term to a list of variants"),
        ("synonyms: [pulsa]\n", "glossary.yaml: expected 'synonyms:' mapping each term to a list of variants"),
        ("synonyms:\n  pulsa: [credit\n", "glossary.yaml:3: malformed YAML: "),
    ],
    ids=["variant-in-two-groups", "term-is-another-variant", "variants-not-a-list", "not-a-mapping", "malformed"],
)
def test_bad_glossary_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    root = write(tmp_path / "kb", {"glossary.yaml": text})
    shown = problems_of([root], root)
    assert len(shown) == 1 and shown[0].startswith(expected)


def test_empty_glossary_is_an_empty_glossary(tmp_path: Path) -> None:
    root = write(tmp_path / "kb", {"glossary.yml": "# belum ada sinonim\n"})
    loaded = load_knowledge_base([root], root)
    assert loaded.glossary is not None and loaded.glossary.as_mapping() == {}
