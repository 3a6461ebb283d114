"""Syncing the index with the kb/ files (real model, real Chroma): embed only changed texts, remove what is gone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from support.workspace import make_settings

from bot.retrieval.embedder import load_embedder, model_identity
from bot.retrieval.knowledge_index import IndexRecord, KnowledgeIndex
from bot.retrieval.retriever import HybridRetriever
from bot.settings import Settings
from ingest.knowledge_base import load_knowledge_base
from ingest.problems import KnowledgeBaseError
from ingest.sync import SyncSummary, sync_index

# These tests answer with, or index with, the demo's tuned model: built first when this machine lacks it.
pytestmark = pytest.mark.usefixtures("tuned_model")

PULSA = """\
faq:
  - id: cek-pulsa
    question: Bagaimana cara cek sisa pulsa?
    alternates:
      - gmn cek pulsa
      - how do I check my credit balance
    answer: Tekan *123# lalu pilih Info Pulsa.
    answer_en: Dial *123# and choose Credit Info.
    tags: [pulsa, prabayar]
  - id: isi-pulsa
    question: Bagaimana cara isi pulsa?
    alternates: [beli pulsa dimana]
    answer: Beli voucher atau isi lewat MyNusantel.
"""
ROAMING = """\
- id: roaming-aktif
  question: Bagaimana cara mengaktifkan roaming?
  alternates: [cara roaming ke luar negeri]
  answer: Tekan *123*5# sebelum berangkat.
- id: roaming-tarif
  question: Berapa tarif roaming di Malaysia?
  answer: Rp25.000 per hari.
"""
TARIF = """\
# Tarif Prabayar

## Telepon

Rp13 per detik ke sesama Nusantel.

## SMS

Rp150 per SMS ke semua operator.
"""
GLOSSARY = "synonyms:\n  pulsa: [pulsah, credit]\n"


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embeddings:
    """The real model, loaded once for the module."""
    return load_embedder(make_settings(tmp_path_factory.mktemp("model")))


@dataclass
class Workspace:
    """A small kb/ folder and its own index folder."""

    kb: Path
    settings: Settings
    embedder: Embeddings

    def write(self, name: str, text: str) -> Path:
        path = self.kb / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def edit(self, name: str, old: str, new: str) -> None:
        text = (self.kb / name).read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {name}"
        self.write(name, text.replace(old, new, 1))

    def sync(self, *paths: str) -> SyncSummary:
        kb = load_knowledge_base([self.kb / p for p in paths] or [self.kb], self.kb)
        with self.index() as index:
            return sync_index(index, kb, show_progress=False)

    def index(self) -> KnowledgeIndex:
        return KnowledgeIndex(self.settings, self.embedder, writable=True)

    def snapshot(self) -> tuple[dict[str, IndexRecord], dict[str, list[float]], dict[str, object]]:
        """Every record, every stored vector and the index-wide facts."""
        with self.index() as index:
            records = index.records()
            return records, index.vectors(sorted(records)), index.info()


@pytest.fixture
def ws(tmp_path: Path, embedder: Embeddings) -> Iterator[Workspace]:
    workspace = Workspace(tmp_path / "kb", make_settings(tmp_path), embedder)
    workspace.write("faq/pulsa.yaml", PULSA)
    workspace.write("faq/roaming.yaml", ROAMING)
    workspace.write("docs/tarif.md", TARIF)
    workspace.write("glossary.yaml", GLOSSARY)
    yield workspace


def of_unit(records: dict[str, IndexRecord], unit: str) -> dict[str, IndexRecord]:
    return {rid: r for rid, r in records.items() if r.metadata["unit"] == unit}


def texts(records: dict[str, IndexRecord]) -> set[str]:
    return {r.text for r in records.values()}


def same_vectors(a: list[float], b: list[float]) -> bool:
    return bool(np.allclose(a, b, atol=1e-6))


def test_first_sync_adds_every_entry_and_chunk_with_its_metadata(ws: Workspace) -> None:
    summary = ws.sync()
    assert (summary.added, summary.updated, summary.removed, summary.unchanged) == (6, 0, 0, 0)
    assert summary.embedded == 4 + 3 + 3 + 2 + 2  # question, alternates, answer per entry; one per chunk
    records, vectors, info = ws.snapshot()
    assert len(records) == summary.embedded
    question = records["faq:cek-pulsa:0"]
    assert question.text == "Bagaimana cara cek sisa pulsa?"
    assert question.metadata | {"unit_hash": "", "text_hash": ""} == {
        "unit": "faq:cek-pulsa",
        "unit_hash": "",
        "text_hash": "",
        "kind": "faq",
        "role": "question",
        "ref": "cek-pulsa",
        "title": "Bagaimana cara cek sisa pulsa?",
        "source": "faq/pulsa.yaml",
        "answer": "Tekan *123# lalu pilih Info Pulsa.",
        "answer_en": "Dial *123# and choose Credit Info.",
        "tags": "pulsa,prabayar",
    }
    assert [r.metadata["role"] for r in sorted(of_unit(records, "faq:cek-pulsa").values(), key=lambda r: r.id)] == [
        "question",
        "alternate",
        "alternate",
        "answer",
    ]
    chunk = records["doc:docs/tarif.md:1"]
    assert chunk.text == "Tarif Prabayar — SMS\nRp150 per SMS ke semua operator."
    assert (chunk.metadata["ref"], chunk.metadata["title"], chunk.metadata["section"]) == (
        "docs/tarif.md#SMS",
        "Tarif Prabayar",
        "SMS",
    )
    assert same_vectors(vectors["faq:cek-pulsa:0"], ws.embedder.embed_documents([question.text])[0])
    assert info["embedding_model"] == model_identity(ws.settings)


def test_second_sync_changes_nothing(ws: Workspace) -> None:
    ws.sync()
    before = ws.snapshot()
    summary = ws.sync()
    assert str(summary) == "added 0, updated 0, removed 0, unchanged 6 (0 texts embedded)"
    assert ws.snapshot() == before


def test_changing_answer_en_updates_the_entry_without_embedding(ws: Workspace) -> None:
    ws.sync()
    records, vectors, _ = ws.snapshot()
    ws.edit("faq/pulsa.yaml", "Dial *123# and choose Credit Info.", "Dial *123#, then Credit Info.")
    summary = ws.sync()
    assert (summary.added, summary.updated, summary.removed, summary.unchanged, summary.embedded) == (0, 1, 0, 5, 0)
    after, after_vectors, _ = ws.snapshot()
    assert {r.metadata["answer_en"] for r in of_unit(after, "faq:cek-pulsa").values()} == {
        "Dial *123#, then Credit Info."
    }
    assert after_vectors == vectors
    assert {rid: r for rid, r in after.items() if rid not in of_unit(after, "faq:cek-pulsa")} == {
        rid: r for rid, r in records.items() if rid not in of_unit(records, "faq:cek-pulsa")
    }


def test_changing_an_alternate_embeds_only_that_text(ws: Workspace) -> None:
    ws.sync()
    _, vectors, _ = ws.snapshot()
    ws.edit("faq/pulsa.yaml", "- gmn cek pulsa", "- gimana cara ngecek pulsa")
    summary = ws.sync()
    assert (summary.updated, summary.unchanged, summary.embedded) == (1, 5, 1)
    after, after_vectors, _ = ws.snapshot()
    assert after["faq:cek-pulsa:1"].text == "gimana cara ngecek pulsa"
    assert "gmn cek pulsa" not in texts(after)
    assert same_vectors(after_vectors["faq:cek-pulsa:1"], ws.embedder.embed_documents(["gimana cara ngecek pulsa"])[0])
    assert {rid: v for rid, v in after_vectors.items() if rid != "faq:cek-pulsa:1"} == {
        rid: v for rid, v in vectors.items() if rid != "faq:cek-pulsa:1"
    }


def test_adding_an_alternate_embeds_only_the_new_text(ws: Workspace) -> None:
    ws.sync()
    records, vectors, _ = ws.snapshot()
    ws.edit("faq/pulsa.yaml", "      - gmn cek pulsa\n", "      - gmn cek pulsa\n      - sisa pulsa brp\n")
    summary = ws.sync()
    assert (summary.updated, summary.embedded) == (1, 1)
    after, after_vectors, _ = ws.snapshot()
    assert len(after) == len(records) + 1
    assert "sisa pulsa brp" in texts(after)
    by_text = {r.text: after_vectors[rid] for rid, r in after.items()}
    for rid, record in of_unit(records, "faq:cek-pulsa").items():  # the moved texts kept their vectors
        assert same_vectors(by_text[record.text], vectors[rid])


def test_removing_an_alternate_embeds_nothing_and_drops_its_record(ws: Workspace) -> None:
    ws.sync()
    records, _, _ = ws.snapshot()
    ws.edit("faq/pulsa.yaml", "      - gmn cek pulsa\n", "")
    summary = ws.sync()
    assert (summary.updated, summary.embedded) == (1, 0)
    after, _, _ = ws.snapshot()
    assert texts(after) == texts(records) - {"gmn cek pulsa"}


def test_entry_removed_from_its_file_is_removed_from_the_index(ws: Workspace) -> None:
    ws.sync()
    ws.write("faq/roaming.yaml", ROAMING.split("- id: roaming-tarif")[0])
    summary = ws.sync()
    assert (summary.added, summary.updated, summary.removed, summary.unchanged, summary.embedded) == (0, 0, 1, 5, 0)
    after, _, _ = ws.snapshot()
    assert of_unit(after, "faq:roaming-tarif") == {}
    with ws.index() as index:
        retriever = HybridRetriever(index)
        retriever.refresh()
        assert "faq:roaming-tarif" not in {c.unit for c in retriever.retrieve("Berapa tarif roaming di Malaysia?", 10)}


def test_deleted_file_loses_its_entries_in_a_folder_sync(ws: Workspace) -> None:
    ws.sync()
    (ws.kb / "faq" / "roaming.yaml").unlink()
    summary = ws.sync()
    assert (summary.removed, summary.unchanged) == (2, 4)
    after, _, _ = ws.snapshot()
    assert {r.metadata["source"] for r in after.values()} == {"faq/pulsa.yaml", "docs/tarif.md"}


def test_single_file_sync_touches_only_that_file(ws: Workspace) -> None:
    ws.sync()
    records, vectors, _ = ws.snapshot()
    ws.edit("faq/pulsa.yaml", "Beli voucher atau isi lewat MyNusantel.", "Isi lewat MyNusantel.")
    ws.write("faq/roaming.yaml", "")  # emptied on disk, but not part of this run
    ws.edit("docs/tarif.md", "Rp150", "Rp200")
    summary = ws.sync("faq/pulsa.yaml")
    assert (summary.added, summary.updated, summary.removed, summary.unchanged, summary.embedded) == (0, 1, 0, 1, 1)
    after, after_vectors, _ = ws.snapshot()
    assert after["faq:isi-pulsa:2"].text == "Isi lewat MyNusantel."
    untouched = {rid for rid, r in records.items() if r.metadata["source"] != "faq/pulsa.yaml"}
    assert {rid: after[rid] for rid in untouched} == {rid: records[rid] for rid in untouched}
    assert {rid: after_vectors[rid] for rid in untouched} == {rid: vectors[rid] for rid in untouched}


def test_single_file_sync_removes_entries_gone_from_that_file(ws: Workspace) -> None:
    ws.sync()
    ws.write("faq/pulsa.yaml", PULSA.split("  - id: isi-pulsa")[0])
    summary = ws.sync("faq/pulsa.yaml")
    assert (summary.removed, summary.unchanged) == (1, 1)
    after, _, _ = ws.snapshot()
    assert {r.metadata["unit"] for r in after.values() if r.metadata["kind"] == "faq"} == {
        "faq:cek-pulsa",
        "faq:roaming-aktif",
        "faq:roaming-tarif",
    }


def test_entry_moved_to_another_file_is_relabelled_not_re_embedded(ws: Workspace) -> None:
    ws.sync()
    _, vectors, _ = ws.snapshot()
    moved = "- id: roaming-tarif\n  question: Berapa tarif roaming di Malaysia?\n  answer: Rp25.000 per hari.\n"
    ws.write("faq/roaming.yaml", ROAMING.replace(moved, ""))
    ws.write("faq/tarif-roaming.yaml", moved)
    summary = ws.sync()
    assert (summary.added, summary.updated, summary.removed, summary.embedded) == (0, 1, 0, 0)
    after, after_vectors, _ = ws.snapshot()
    assert {r.metadata["source"] for r in of_unit(after, "faq:roaming-tarif").values()} == {"faq/tarif-roaming.yaml"}
    assert after_vectors == vectors


def test_id_already_indexed_from_a_file_outside_the_run_is_refused_and_nothing_written(ws: Workspace) -> None:
    ws.sync()
    before = ws.snapshot()
    ws.write(
        "faq/baru.yaml",
        "- id: baru\n  question: Baru?\n  answer: Ya.\n- id: isi-pulsa\n  question: Isi?\n  answer: X.\n",
    )
    with pytest.raises(KnowledgeBaseError) as caught:
        ws.sync("faq/baru.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "faq/baru.yaml:4: duplicate id 'isi-pulsa' (already indexed from faq/pulsa.yaml)"
    ]
    assert ws.snapshot() == before


def test_editing_one_document_section_embeds_only_that_chunk(ws: Workspace) -> None:
    ws.sync()
    ws.edit("docs/tarif.md", "Rp150 per SMS", "Rp200 per SMS")
    summary = ws.sync()
    assert (summary.updated, summary.unchanged, summary.embedded) == (1, 5, 1)


def test_new_section_before_others_embeds_only_the_new_chunk(ws: Workspace) -> None:
    ws.sync()
    records, vectors, _ = ws.snapshot()
    ws.edit("docs/tarif.md", "## Telepon", "## Internet\n\nRp1 per KB tanpa paket.\n\n## Telepon")
    summary = ws.sync()
    assert (summary.added, summary.embedded) == (1, 1)  # the old chunks moved one place down: relabelled
    after, after_vectors, _ = ws.snapshot()
    assert [after[f"doc:docs/tarif.md:{n}"].metadata["section"] for n in range(3)] == ["Internet", "Telepon", "SMS"]
    assert same_vectors(after_vectors["doc:docs/tarif.md:2"], vectors["doc:docs/tarif.md:1"])
    assert after["doc:docs/tarif.md:2"].text == records["doc:docs/tarif.md:1"].text


def test_glossary_is_stored_with_the_index_and_kept_by_runs_without_it(ws: Workspace) -> None:
    ws.sync()
    with ws.index() as index:
        assert index.glossary().as_mapping() == {"pulsa": ["pulsah", "credit"]}
    ws.write("glossary.yaml", "synonyms:\n  kuota: [kouta, data]\n")
    ws.sync("faq/pulsa.yaml")
    with ws.index() as index:
        assert index.glossary().as_mapping() == {"pulsa": ["pulsah", "credit"]}
    ws.sync()
    with ws.index() as index:
        assert index.glossary().as_mapping() == {"kuota": ["kouta", "data"]}


def test_sync_after_reset_embeds_everything_again(ws: Workspace) -> None:
    first = ws.sync()
    records, _, _ = ws.snapshot()
    kb = load_knowledge_base([ws.kb], ws.kb)
    with ws.index() as index:
        index.reset()
        assert index.count() == 0
        summary = sync_index(index, kb, show_progress=False)
    assert (summary.added, summary.embedded) == (6, first.embedded)
    assert ws.snapshot()[0] == records
