"""Hybrid retrieval: dense (Chroma) and lexical (BM25 over normalised terms), fused per FAQ entry or chunk."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from bot.knowledge_index import IndexRecord, KnowledgeIndex
from bot.lexical_index import LexicalIndex
from bot.text_normalizer import TextNormalizer

log = logging.getLogger(__name__)

DENSE_WEIGHT = 0.5
LEXICAL_WEIGHT = 0.5
# Matching an answer's or a document's wording is weaker evidence than matching a way the question is asked.
ROLE_WEIGHT = {"question": 1.0, "alternate": 1.0, "answer": 0.85, "chunk": 0.9}
DENSE_CANDIDATES = 40


@dataclass(frozen=True)
class Candidate:
    """One FAQ entry or document chunk that may answer the question, with the evidence for it."""

    unit: str
    record: IndexRecord  # the unit's best-matching record
    dense: float
    lexical: float
    score: float

    @property
    def kind(self) -> str:
        return str(self.record.metadata.get("kind", "faq"))

    @property
    def ref(self) -> str:
        return str(self.record.metadata.get("ref", self.unit))


class HybridRetriever:
    """Ranks the index's entries and chunks for a question; `refresh()` after the index changes."""

    def __init__(self, index: KnowledgeIndex) -> None:
        self.index = index
        self._lock = threading.Lock()
        self._records: list[IndexRecord] = []
        self._positions: dict[str, int] = {}
        self._lexical = LexicalIndex([])
        self.normalizer = TextNormalizer()

    def refresh(self) -> None:
        """Reload records and glossary from the index and rebuild the lexical index."""
        records = sorted(self.index.records().values(), key=lambda r: r.id)
        normalizer = TextNormalizer(self.index.glossary())
        lexical = LexicalIndex([normalizer.terms(r.text) for r in records])
        with self._lock:
            self._records = records
            self._positions = {r.id: i for i, r in enumerate(records)}
            self._lexical = lexical
            self.normalizer = normalizer
        log.info("Retriever ready: %d records", len(records))

    @property
    def vocabulary(self) -> set[str]:
        return self._lexical.vocabulary()

    def retrieve(self, text: str, k: int = 5) -> list[Candidate]:
        """The best `k` units for `text`, best first."""
        with self._lock:
            records, positions, lexical, normalizer = self._records, self._positions, self._lexical, self.normalizer
        if not records or not text.strip():
            return []
        lexical_scores = lexical.scores(normalizer.terms(text))
        dense_scores = [0.0] * len(records)
        for rid, similarity in self.index.search(text, DENSE_CANDIDATES):
            position = positions.get(rid)
            if position is None:  # Chroma may return records deleted since; the live set decides
                continue
            dense_scores[position] = max(0.0, similarity)
        best: dict[str, Candidate] = {}
        for position, record in enumerate(records):
            dense, lex = dense_scores[position], float(lexical_scores[position])
            if dense == 0.0 and lex == 0.0:
                continue
            weight = ROLE_WEIGHT.get(str(record.metadata.get("role")), 1.0)
            score = weight * (DENSE_WEIGHT * dense + LEXICAL_WEIGHT * lex)
            unit = str(record.metadata.get("unit", record.id))
            current = best.get(unit)
            if current is None or score > current.score:
                best[unit] = Candidate(unit, record, dense, lex, score)
        return sorted(best.values(), key=lambda c: c.score, reverse=True)[:k]
