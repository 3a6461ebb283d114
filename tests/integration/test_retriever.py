"""How retrieval weighs its evidence per entry, on a real Chroma index with vectors placed by hand.

The vectors are chosen so the query's cosine similarity to each record is known exactly. In the first tests the
query's words appear in no record (each record's text is its id), so only the dense evidence counts and the
arithmetic of the fusion is what is tested; the last ones give records real words, for the lexical evidence.
(Its effect with the real model is measured by `tanya eval` and guarded by the answer-quality floor.)
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from support.workspace import make_settings

from bot.retrieval.embedder import model_identity
from bot.retrieval.knowledge_index import IndexRecord, KnowledgeIndex
from bot.retrieval.retriever import HybridRetriever, RetrievalConfig

# These tests answer with, or index with, the demo's tuned model: built first when this machine lacks it.
pytestmark = pytest.mark.usefixtures("tuned_model")

DIMENSION = 8
QUERY = "zzz qqq"


def axis(n: int) -> np.ndarray:
    vector = np.zeros(DIMENSION)
    vector[n] = 1.0
    return vector


def at_similarity(similarity: float, other_axis: int) -> list[float]:
    """A unit vector whose cosine similarity to the query (axis 0) is `similarity`."""
    return (similarity * axis(0) + np.sqrt(1 - similarity**2) * axis(other_axis)).tolist()


class PlacedEmbedder(Embeddings):
    """The query sits on axis 0; records come with their vectors already placed."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise AssertionError("records are added with their vectors")

    def embed_query(self, text: str) -> list[float]:
        return axis(0).tolist()


def add_placed(index: KnowledgeIndex, rows: list[tuple[str, str, float]]) -> None:
    """Add (entry, role, similarity to the query) rows, each record on an axis of its own besides the query's."""
    records, vectors = [], []
    for position, (entry, role, similarity) in enumerate(rows, start=1):
        number = sum(1 for r in records if r.metadata["ref"] == entry)
        rid = f"faq:{entry}:{number}"
        records.append(IndexRecord(rid, rid, {"unit": f"faq:{entry}", "kind": "faq", "ref": entry, "role": role}))
        vectors.append(at_similarity(similarity, position))
    index.add(records, vectors)


@pytest.fixture
def index(tmp_path: object) -> Iterator[KnowledgeIndex]:
    settings = make_settings(tmp_path)  # type: ignore[arg-type]
    with KnowledgeIndex(settings, PlacedEmbedder(), writable=True) as opened:
        opened.set_info(embedding_model=model_identity(settings))
        yield opened


def ranking(index: KnowledgeIndex, config: RetrievalConfig | None = None) -> list[str]:
    retriever = HybridRetriever(index, config)
    retriever.refresh()
    return [c.ref for c in retriever.retrieve(QUERY, k=5)]


def test_an_entry_whose_answer_also_matches_outranks_a_slightly_closer_phrasing(index: KnowledgeIndex) -> None:
    add_placed(
        index,
        [
            ("closer-question", "question", 0.80),
            ("closer-question", "answer", 0.0),
            ("answer-matches", "question", 0.78),
            ("answer-matches", "answer", 0.70),
        ],
    )
    assert ranking(index)[0] == "answer-matches"
    assert ranking(index, RetrievalConfig(answer_bonus=0.0, centroid_weight=0.0))[0] == "closer-question"


def test_closeness_to_all_of_an_entrys_phrasings_beats_one_lucky_phrasing(index: KnowledgeIndex) -> None:
    add_placed(
        index,
        [
            ("one-lucky-phrasing", "question", 0.90),
            ("one-lucky-phrasing", "alternate", 0.10),
            ("one-lucky-phrasing", "alternate", 0.10),
            ("all-phrasings-close", "question", 0.85),
            ("all-phrasings-close", "alternate", 0.85),
            ("all-phrasings-close", "alternate", 0.85),
        ],
    )
    assert ranking(index)[0] == "all-phrasings-close"
    assert ranking(index, RetrievalConfig(centroid_weight=0.0))[0] == "one-lucky-phrasing"


def test_scores_stay_ordered_and_the_source_is_the_best_matching_record(index: KnowledgeIndex) -> None:
    add_placed(index, [("entry", "question", 0.9), ("entry", "answer", 0.5)])
    retriever = HybridRetriever(index)
    retriever.refresh()
    (candidate,) = retriever.retrieve(QUERY, k=5)
    assert candidate.record.metadata["role"] == "question"
    assert candidate.dense == pytest.approx(0.9, abs=1e-3)
    # best phrasing 0.5 * 0.9, answer bonus 0.5 * 0.85 * 0.5 * 0.5, centre 0.4 * 0.9
    assert candidate.score == pytest.approx(0.45 + 0.10625 + 0.36, abs=1e-3)


def add_texts(index: KnowledgeIndex, rows: list[tuple[str, str, str, float]]) -> None:
    """Add (unit ref, role, text, similarity to the query) rows; a `chunk` row is a document section."""
    records, vectors = [], []
    for position, (ref, role, text, similarity) in enumerate(rows, start=1):
        kind = "doc" if role == "chunk" else "faq"
        unit = f"{kind}:{ref}"
        rid = f"{unit}:{position}"
        records.append(IndexRecord(rid, text, {"unit": unit, "kind": kind, "ref": ref, "role": role}))
        vectors.append(at_similarity(similarity, position))
    index.add(records, vectors)


ROAMING_ENTRY = [
    ("tarif-roaming", "question", "Berapa tarif roaming di luar negeri?", 0.80),
    ("tarif-roaming", "alternate", "roaming di luar negeri kena biaya berapa", 0.78),
]
ZONE_SECTION = (
    "docs/roaming.md#Zona negara",
    "chunk",
    "Panduan Roaming — Zona negara\nZona 1: Malaysia, Singapura. Zona 3: Arab Saudi, Qatar, Turki.",
    0.55,
)
OTHER_ENTRIES = [
    ("cek-pulsa", "question", "Bagaimana cara cek pulsa?", 0.2),
    ("aktivasi-roaming", "question", "Bagaimana cara mengaktifkan roaming?", 0.5),
]


def detail_ranking(index: KnowledgeIndex, config: RetrievalConfig | None = None) -> list[str]:
    retriever = HybridRetriever(index, config)
    retriever.refresh()
    return [c.ref for c in retriever.retrieve("turki masuk zona roaming berapa", k=5)]


def test_a_document_section_naming_the_asked_detail_outranks_the_general_entry(index: KnowledgeIndex) -> None:
    add_texts(index, [*ROAMING_ENTRY, ("tarif-roaming", "answer", "Tarif mengikuti zona tujuan.", 0.5)])
    add_texts(index, [ZONE_SECTION, *OTHER_ENTRIES])
    assert detail_ranking(index)[0] == "docs/roaming.md#Zona negara"
    assert detail_ranking(index, RetrievalConfig(detail_bonus=0.0))[0] == "tarif-roaming"


def test_the_entry_keeps_its_place_when_it_names_the_detail_too(index: KnowledgeIndex) -> None:
    add_texts(index, [*ROAMING_ENTRY, ("tarif-roaming", "answer", "Turki ada di zona 3, tarifnya sama.", 0.5)])
    add_texts(index, [ZONE_SECTION, *OTHER_ENTRIES])
    assert detail_ranking(index)[0] == "tarif-roaming"
