"""Hybrid retrieval: dense (Chroma) and lexical (BM25 over normalised terms), fused per FAQ entry or chunk."""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from bot.core.glossary import Glossary
from bot.core.messages import SourceKind
from bot.core.telecom_vocabulary import knowledge_base_names, shipped_vocabulary
from bot.core.text_normalizer import TextNormalizer
from bot.retrieval.knowledge_index import IndexRecord, KnowledgeIndex
from bot.retrieval.lexical_index import LexicalIndex

log = logging.getLogger(__name__)

# Matching an answer's or a document's wording is weaker evidence than matching a way the question is asked.
ROLE_WEIGHT = {"question": 1.0, "alternate": 1.0, "answer": 0.85, "chunk": 0.9}
ASKING_ROLES = frozenset({"question", "alternate"})
ANSWERING_ROLES = frozenset({"answer", "chunk"})  # a document chunk is its own answer
# Evidence beyond the best-matching phrasing, chosen on the demo set only: over answer bonus 0.3-1.0 and centre
# weight 0.2-0.6, demo hit@1 sat on a plateau of 80.0-81.9% (79.2% without either); these are its middle.
ANSWER_BONUS = 0.5
CENTROID_WEIGHT = 0.4
# Enough nearest records that an entry found by its wording also gets its dense evidence (measured: 40 -> 150
# records raised demo hit@1 from 73.5% to 74.2% and MRR@5 from 0.807 to 0.827, at ~1 ms a question).
DENSE_CANDIDATES = 150
# A document section that holds the question's specific details (words at most this many entries or sections
# use: a country, a code, a setting's name) which the best-matching entry lacks gains up to DETAIL_BONUS: an
# entry answers the general question, the section the detail asked about. Chosen on the demo set (document
# questions 1 -> 8 of 13, no FAQ question lost); its neighbours (2-8 units, 0.4-0.6) sit within one question.
DETAIL_MAX_UNITS = 3
DETAIL_BONUS = 0.5


@dataclass(frozen=True)
class RetrievalConfig:
    """The parts of retrieval, switchable for ablations (the defaults are the production setting)."""

    dense_weight: float = 0.5
    lexical_weight: float = 0.5
    normalise: bool = True  # slang, elongation and stemming for lexical matching
    glossary: bool = True  # fold glossary synonyms for lexical matching
    # Merge the telecom vocabulary that ships with Tanya under the operator's glossary, and judge the domain by it.
    shipped_vocabulary: bool = True
    unit_lexical: bool = True  # also match against all of an entry's phrasings together
    # An entry whose answer matches too gains this share of the answer's score: customers often describe their
    # situation in the answer's words rather than in any of the ways the entry is asked.
    answer_bonus: float = ANSWER_BONUS
    # Similarity to the mean of an entry's phrasings (its centre), added with this weight: one lucky phrasing
    # of a neighbouring entry counts for less than being close to all the ways an entry is asked.
    centroid_weight: float = CENTROID_WEIGHT
    # A document section gains this much when it holds all of the question's rare words the best entry lacks.
    detail_bonus: float = DETAIL_BONUS


@dataclass(frozen=True)
class Candidate:
    """One FAQ entry or document chunk that may answer the question, with the evidence for it."""

    unit: str
    record: IndexRecord  # the unit's best-matching record
    dense: float
    lexical: float
    score: float

    @property
    def kind(self) -> SourceKind:
        return SourceKind(str(self.record.metadata.get("kind", SourceKind.FAQ)))

    @property
    def ref(self) -> str:
        return str(self.record.metadata.get("ref", self.unit))


class _PlainTerms(TextNormalizer):
    """Lower-cased words only: the ablation without normalisation."""

    def terms(self, text: str) -> list[str]:
        return [w for w in text.lower().split() if w.isalnum()]


@dataclass(frozen=True)
class _Snapshot:
    """Everything one query needs, swapped atomically on refresh."""

    records: list[IndexRecord]
    positions: dict[str, int]
    record_lexical: LexicalIndex
    units: list[str]  # the entries with asking phrasings, in the rows of unit_lexical
    unit_lexical: LexicalIndex
    normalizer: TextNormalizer
    centroid_rows: dict[str, int]
    centroids: np.ndarray  # one unit-length row per entry or chunk
    unit_vocabulary: dict[str, frozenset[str]]  # every term of an entry's records, or of a chunk
    units_using: Counter[str]  # in how many entries and chunks each term occurs
    vector_rows: dict[str, int]  # the records' stored vectors (for centres of a leave-out copy): rows of ...
    vector_matrix: np.ndarray  # ... this float32 matrix
    content_digest: str
    # Each record's facts as arrays, so a query scores every record at once. Units are numbered in the order
    # their first record comes (unit_vocabulary's order).
    unit_names: list[str]
    record_unit: np.ndarray  # the unit number of each record
    role_weight: np.ndarray  # ROLE_WEIGHT of each record's role
    answering: np.ndarray  # whether each record is an answer or a chunk
    record_faq: np.ndarray  # whether each record is an FAQ entry's
    unit_lexical_of: np.ndarray  # the unit numbers of unit_lexical's rows
    centroid_of: np.ndarray  # each unit's row in centroids, -1 for none
    rare_units: dict[str, tuple[int, ...]]  # the units using a term, for terms at most DETAIL_MAX_UNITS use
    terms_of: dict[str, list[str]]  # each text's terms (reused by the next refresh while terms_key is the same)
    terms_key: object


def _empty_snapshot() -> _Snapshot:
    none = np.zeros(0, dtype=np.int64)
    return _Snapshot(
        [],
        {},
        LexicalIndex([]),
        [],
        LexicalIndex([]),
        TextNormalizer(),
        {},
        np.zeros((0, 0)),
        {},
        Counter(),
        {},
        np.zeros((0, 0), dtype=np.float32),
        "",
        [],
        none,
        np.zeros(0),
        np.zeros(0, dtype=bool),
        np.zeros(0, dtype=bool),
        none,
        none,
        {},
        {},
        None,
    )


def _terms_key(normalizer: TextNormalizer) -> object:
    """What a normaliser's terms depend on: its kind and its glossary (domain words only judge the domain)."""
    return type(normalizer), tuple((c, tuple(v)) for c, v in normalizer.glossary.synonyms.items())


class HybridRetriever:
    """Ranks the index's entries and chunks for a question; `refresh()` after the index changes."""

    def __init__(self, index: KnowledgeIndex, config: RetrievalConfig | None = None) -> None:
        self.index = index
        self.config = config or RetrievalConfig()
        self._lock = threading.Lock()
        self._snapshot = _empty_snapshot()

    def refresh(self) -> None:
        """Reload records and glossary from the index and rebuild the lexical indexes (texts normalised by the
        last refresh, with the same glossary, keep their terms: an edit re-reads the index, not every text)."""
        records = sorted(self.index.records().values(), key=lambda r: r.id)
        rows, matrix = self.index.vector_matrix([r.id for r in records]) if self._uses_centroids() else ({}, None)
        normalizer = self._normalizer(records, self.index.glossary())
        previous = self._snapshot
        known = previous.terms_of if previous.terms_key == _terms_key(normalizer) else {}
        snapshot = self._build_snapshot(records, rows, matrix, normalizer, known)
        with self._lock:
            self._snapshot = snapshot
        log.info("Retriever ready: %d records", len(records))

    def without(self, record_ids: set[str]) -> HybridRetriever:
        """A retriever over the same index that cannot see `record_ids` (leave-out calibration asks it the
        phrasings it does not know); it keeps this one's normaliser, so only the records differ."""
        snap = self._snapshot
        kept = [r for r in snap.records if r.id not in record_ids]
        blind = HybridRetriever(self.index, self.config)
        blind._snapshot = self._build_snapshot(
            kept, snap.vector_rows, snap.vector_matrix, snap.normalizer, snap.terms_of
        )
        return blind

    @property
    def content_digest(self) -> str:
        """A short hash of what the retriever sees (record ids and texts): calibration is valid for one content."""
        return self._snapshot.content_digest

    def _uses_centroids(self) -> bool:
        return bool(self.config.centroid_weight and self.config.dense_weight)

    def _normalizer(self, records: list[IndexRecord], operator_glossary: Glossary) -> TextNormalizer:
        """The normaliser for this content: the operator's glossary over the shipped vocabulary, and the domain
        as the shipped words, the operator's terms and the knowledge base's own names."""
        formal_texts: dict[str, list[str]] = defaultdict(list)  # as the operator writes, not as customers type
        for record in records:
            if record.metadata.get("role") in {"question", "answer", "chunk"}:
                formal_texts[str(record.metadata.get("unit", record.id))].append(record.text)
        domain_words = knowledge_base_names(formal_texts.values())
        if self.config.shipped_vocabulary:
            domain_words |= shipped_vocabulary().domain_words
        normalizer_type = TextNormalizer if self.config.normalise else _PlainTerms
        return normalizer_type(
            self._glossary(operator_glossary),
            domain_words=domain_words,
            domain_terms=operator_glossary.canonical_terms(),
        )

    def _build_snapshot(
        self,
        records: list[IndexRecord],
        vector_rows: dict[str, int],
        vector_matrix: np.ndarray | None,
        normalizer: TextNormalizer,
        known_terms: dict[str, list[str]],
    ) -> _Snapshot:
        shared: dict[str, str] = {}  # one string object per distinct term, however many records use it
        terms_of: dict[str, list[str]] = {}
        for record in records:
            if record.text not in terms_of:
                known = known_terms.get(record.text)
                terms = known if known is not None else normalizer.terms(record.text)
                terms_of[record.text] = [shared.setdefault(t, t) for t in terms] if known is None else terms
        record_terms = [terms_of[r.text] for r in records]
        unit_terms: dict[str, list[str]] = defaultdict(list)
        unit_vocabulary: dict[str, set[str]] = defaultdict(set)
        record_units = [str(r.metadata.get("unit", r.id)) for r in records]
        for record, unit, terms in zip(records, record_units, record_terms, strict=True):
            unit_vocabulary[unit].update(terms)
            if record.metadata.get("role") in ASKING_ROLES:
                unit_terms[unit].extend(terms)
        digest = hashlib.sha256()
        for record in records:
            digest.update(f"{record.id}\0{record.text}\0".encode())
        unit_number = {unit: n for n, unit in enumerate(unit_vocabulary)}
        units_using = Counter(term for vocabulary in unit_vocabulary.values() for term in vocabulary)
        rare_units: dict[str, list[int]] = defaultdict(list)
        for unit, vocabulary in unit_vocabulary.items():
            for term in vocabulary:
                if units_using[term] <= DETAIL_MAX_UNITS:
                    rare_units[term].append(unit_number[unit])
        centroid_rows, centroids = self._centroids(records, vector_rows, vector_matrix)
        centroid_of = np.full(len(unit_number), -1, dtype=np.int64)
        for unit, row in centroid_rows.items():
            centroid_of[unit_number[unit]] = row
        roles = [str(r.metadata.get("role")) for r in records]
        return _Snapshot(
            records,
            {r.id: i for i, r in enumerate(records)},
            LexicalIndex(record_terms),
            list(unit_terms),
            LexicalIndex(list(unit_terms.values())),
            normalizer,
            centroid_rows,
            centroids,
            {unit: frozenset(vocabulary) for unit, vocabulary in unit_vocabulary.items()},
            units_using,
            vector_rows,
            vector_matrix if vector_matrix is not None else np.zeros((0, 0), dtype=np.float32),
            digest.hexdigest()[:16],
            list(unit_number),
            np.array([unit_number[u] for u in record_units], dtype=np.int64),
            np.array([ROLE_WEIGHT.get(role, 1.0) for role in roles], dtype=np.float64),
            np.array([role in ANSWERING_ROLES for role in roles], dtype=bool),
            np.array([str(r.metadata.get("kind", SourceKind.FAQ)) == SourceKind.FAQ for r in records], dtype=bool),
            np.array([unit_number[u] for u in unit_terms], dtype=np.int64),
            centroid_of,
            {term: tuple(units) for term, units in rare_units.items()},
            terms_of,
            _terms_key(normalizer),
        )

    def _glossary(self, operator_glossary: Glossary) -> Glossary:
        """The operator's glossary over the shipped telecom vocabulary (each part switchable for ablations)."""
        glossary = operator_glossary if self.config.glossary else Glossary()
        if self.config.shipped_vocabulary:
            glossary = glossary.merged_over(shipped_vocabulary().glossary)
        return glossary

    def _centroids(
        self, records: list[IndexRecord], vector_rows: dict[str, int], vector_matrix: np.ndarray | None
    ) -> tuple[dict[str, int], np.ndarray]:
        """Each unit's centre: the mean vector of an entry's phrasings, or of a chunk's records."""
        if not self._uses_centroids() or not records or vector_matrix is None:
            return {}, np.zeros((0, 0))
        asking: dict[str, list[int]] = defaultdict(list)
        other: dict[str, list[int]] = defaultdict(list)
        for record in records:
            row = vector_rows.get(record.id)
            if row is not None:
                role_group = asking if record.metadata.get("role") in ASKING_ROLES else other
                role_group[str(record.metadata.get("unit", record.id))].append(row)
        units = sorted(set(asking) | set(other))
        if not units:
            return {}, np.zeros((0, 0))
        # In float64 from the stored float32 values, as the mean of the vectors' Python floats was.
        centres = np.array(
            [np.mean(vector_matrix[asking.get(u) or other[u]].astype(np.float64), axis=0) for u in units]
        )
        centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
        return {u: i for i, u in enumerate(units)}, centres

    @property
    def records(self) -> list[IndexRecord]:
        """The records this retriever ranks, by id."""
        return self._snapshot.records

    @property
    def faq_entry_ids(self) -> set[str]:
        """The ids of the FAQ entries among the records (what a labelled calibration records and is checked against)."""
        return {str(r.metadata.get("ref")) for r in self.records if r.metadata.get("kind") == SourceKind.FAQ}

    @property
    def normalizer(self) -> TextNormalizer:
        return self._snapshot.normalizer

    def retrieve(self, text: str, k: int = 5) -> list[Candidate]:
        """The best `k` units for `text`, best first.

        Each unit is scored by its best-scoring record (dense and lexical evidence, the role's weight), plus its
        answer's share, its centre's similarity and (a document section) the detail bonus. Computed for every
        record at once; ties keep the order of the units' first records."""
        snap = self._snapshot
        if not snap.records or not text.strip() or k <= 0:
            return []
        config = self.config
        terms = snap.normalizer.terms(text)
        lexical = snap.record_lexical.scores(terms) if config.lexical_weight else np.zeros(len(snap.records))
        unit_lexical = np.zeros(len(snap.unit_names))
        if config.unit_lexical and config.lexical_weight:
            unit_lexical[snap.unit_lexical_of] = snap.unit_lexical.scores(terms)
        dense = np.zeros(len(snap.records))
        centre_similarity = np.zeros(len(snap.centroid_rows))
        if config.dense_weight:
            vector = self.index.embedder.embed_query(text)
            for rid, similarity in self.index.search_vector(vector, DENSE_CANDIDATES):
                position = snap.positions.get(rid)
                if position is not None:  # Chroma may return records deleted since; the live set decides
                    dense[position] = max(0.0, similarity)
            if snap.centroid_rows:
                query = np.asarray(vector)
                query = query / max(np.linalg.norm(query), 1e-12)
                # einsum, not BLAS's matrix-vector product: 2-6x faster here on 10,000+ centres (OpenBLAS threads
                # contend on a busy machine); the same sums up to rounding in the last bits (~1e-14).
                centre_similarity = np.maximum(np.einsum("ij,j->i", snap.centroids, query), 0.0)
        positions = np.flatnonzero((dense > 0) | (lexical > 0))
        if not len(positions):
            return []
        # Every matched record: its unit, its evidence and its score.
        units = snap.record_unit[positions]
        lex = np.maximum(lexical[positions], unit_lexical[units])
        scores = snap.role_weight[positions] * (config.dense_weight * dense[positions] + config.lexical_weight * lex)
        order = np.arange(len(positions))
        absent = len(positions)
        best_score = np.full(len(snap.unit_names), -np.inf)
        np.maximum.at(best_score, units, scores)
        first_seen = np.full(len(snap.unit_names), absent)
        np.minimum.at(first_seen, units, order)
        is_best = scores == best_score[units]
        best_at = np.full(len(snap.unit_names), absent)
        np.minimum.at(best_at, units[is_best], order[is_best])  # the first of a unit's best-scoring records
        answering = snap.answering[positions]
        answer_score = np.zeros(len(snap.unit_names))
        np.maximum.at(answer_score, units[answering], scores[answering])
        # The units found, in the order of their first matched record.
        found = np.flatnonzero(first_seen < absent)
        found = found[np.argsort(first_seen[found], kind="stable")]
        chosen = best_at[found]
        rows = snap.centroid_of[found]
        centre = np.where(rows >= 0, centre_similarity[np.maximum(rows, 0)] if len(centre_similarity) else 0.0, 0.0)
        bonus = config.answer_bonus * answer_score[found] + config.centroid_weight * centre
        final = best_score[found] + bonus
        is_faq = snap.record_faq[positions[chosen]]
        if config.detail_bonus and config.lexical_weight:
            self._add_detail_bonus(snap, terms, found, is_faq, final)
        if len(final) > k:  # the k best (and any tied with the k-th), then in order
            kth = np.partition(final, len(final) - k)[len(final) - k]
            top = np.flatnonzero(final >= kth)
        else:
            top = np.arange(len(final))
        top = top[np.lexsort((top, -final[top]))][:k]
        return [
            Candidate(
                snap.unit_names[found[i]],
                snap.records[positions[chosen[i]]],
                float(dense[positions[chosen[i]]]),
                float(lex[chosen[i]]),
                float(final[i]),
            )
            for i in top.tolist()
        ]

    def _add_detail_bonus(
        self, snap: _Snapshot, terms: list[str], found: np.ndarray, is_faq: np.ndarray, final: np.ndarray
    ) -> None:
        """Raise the document sections that hold the question's rare words the best-scoring entry lacks
        ("turki masuk zona roaming brp": the roaming entry says how roaming is charged, the guide's zone table
        names Turkey), each by its share of those words, weighted by how rare they are. `final` holds the scores
        of the units `found`, and is raised in place."""
        entries = np.flatnonzero(is_faq)
        covered: frozenset[str] = frozenset()
        if len(entries):
            top_entry = entries[int(np.argmax(final[entries]))]  # the first of the best, as max() takes
            covered = snap.unit_vocabulary.get(snap.unit_names[found[top_entry]], frozenset())
        rarity = {
            term: math.log(1.0 + len(snap.unit_vocabulary) / snap.units_using[term])
            for term in set(terms)
            if 0 < snap.units_using[term] <= DETAIL_MAX_UNITS and term not in covered
        }
        if not rarity:
            return
        total = sum(rarity.values())
        index_of = np.full(len(snap.unit_names), -1, dtype=np.int64)
        index_of[found] = np.arange(len(found))
        holders = {unit for term in rarity for unit in snap.rare_units.get(term, ())}
        for unit in holders:
            i = int(index_of[unit])
            if i < 0 or is_faq[i]:
                continue
            vocabulary = snap.unit_vocabulary.get(snap.unit_names[unit], frozenset())
            held = sum(weight for term, weight in rarity.items() if term in vocabulary)
            if held:
                final[i] = final[i] + self.config.detail_bonus * held / total
