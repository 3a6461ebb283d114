"""How retrieval weighs its evidence per entry, on a real Chroma index with vectors placed by hand.

The vectors are chosen so the query's cosine similarity to each record is known exactly; the query's words
appear in no record, so only the dense evidence counts and the arithmetic of the fusion is what is tested.
(Its effect with the real model is measured by `tanya eval` and guarded by the answer-quality floor.)
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from conftest import make_settings
from langchain_core.embeddings import Embeddings

from bot.embedder import model_identity
from bot.knowledge_index import IndexRecord, KnowledgeIndex
from bot.retriever import HybridRetriever, RetrievalConfig

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


def faq(entry: str, n: int, role: str, text: str) -> IndexRecord:
    return IndexRecord(f"faq:{entry}:{n}", text, {"unit": f"faq:{entry}", "kind": "faq", "ref": entry, "role": role})


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
    index.add(
        [
            faq("closer-question", 0, "question", "alpha"),
            faq("closer-question", 1, "answer", "beta"),
            faq("answer-matches", 0, "question", "gamma"),
            faq("answer-matches", 1, "answer", "delta"),
        ],
        [at_similarity(0.80, 1), at_similarity(0.0, 2), at_similarity(0.78, 3), at_similarity(0.70, 4)],
    )
    assert ranking(index)[0] == "answer-matches"
    assert ranking(index, RetrievalConfig(answer_bonus=0.0, centroid_weight=0.0))[0] == "closer-question"


def test_closeness_to_all_of_an_entrys_phrasings_beats_one_lucky_phrasing(index: KnowledgeIndex) -> None:
    index.add(
        [
            faq("one-lucky-phrasing", 0, "question", "alpha"),
            faq("one-lucky-phrasing", 1, "alternate", "beta"),
            faq("one-lucky-phrasing", 2, "alternate", "gamma"),
            faq("all-phrasings-close", 0, "question", "delta"),
            faq("all-phrasings-close", 1, "alternate", "epsilon"),
            faq("all-phrasings-close", 2, "alternate", "zeta"),
        ],
        [
            at_similarity(0.90, 1),
            at_similarity(0.10, 2),
            at_similarity(0.10, 3),
            at_similarity(0.85, 4),
            at_similarity(0.85, 5),
            at_similarity(0.85, 6),
        ],
    )
    assert ranking(index)[0] == "all-phrasings-close"
    assert ranking(index, RetrievalConfig(centroid_weight=0.0))[0] == "one-lucky-phrasing"


def test_scores_stay_ordered_and_the_source_is_the_best_matching_record(index: KnowledgeIndex) -> None:
    index.add(
        [faq("entry", 0, "question", "alpha"), faq("entry", 1, "answer", "beta")],
        [at_similarity(0.9, 1), at_similarity(0.5, 2)],
    )
    retriever = HybridRetriever(index)
    retriever.refresh()
    (candidate,) = retriever.retrieve(QUERY, k=5)
    assert candidate.record.metadata["role"] == "question"
    assert candidate.dense == pytest.approx(0.9, abs=1e-3)
    # best phrasing 0.5 * 0.9, answer bonus 0.5 * 0.85 * 0.5 * 0.5, centre 0.4 * 0.9
    assert candidate.score == pytest.approx(0.45 + 0.10625 + 0.36, abs=1e-3)
