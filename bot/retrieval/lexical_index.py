"""BM25 over normalised terms, with scores scaled to [0, 1] so they can be fused with cosine similarity."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

K1 = 1.2
B = 0.75


class LexicalIndex:
    """Okapi BM25 (Lucene's always-positive idf) over a fixed list of term lists.

    Each posting's share of a score depends only on its term and document, so it is computed once here: a query
    adds up the postings of its terms (one numpy step a term), whatever the number of documents.
    """

    def __init__(self, documents: list[list[str]]) -> None:
        self.size = len(documents)
        self._lengths = np.array([len(d) for d in documents], dtype=np.float64)
        self._average = float(self._lengths.mean()) if self.size else 1.0
        term_ids: dict[str, int] = {}
        posting_terms: list[int] = []
        posting_documents: list[int] = []
        posting_counts: list[int] = []
        for position, terms in enumerate(documents):
            for term, count in Counter(terms).items():
                posting_terms.append(term_ids.setdefault(term, len(term_ids)))
                posting_documents.append(position)
                posting_counts.append(count)
        # Postings grouped by term, each term's in document order: term t's are [starts[t], starts[t + 1]).
        order = np.argsort(np.array(posting_terms, dtype=np.int64), kind="stable")
        frequency = np.bincount(np.array(posting_terms, dtype=np.int64), minlength=len(term_ids))
        self._starts = np.concatenate(([0], np.cumsum(frequency))).astype(np.int64)
        self._documents = np.array(posting_documents, dtype=np.int64)[order]
        counts = np.array(posting_counts, dtype=np.float64)[order]
        self._term_ids = term_ids
        self._idf = {
            term: math.log(1.0 + (self.size - int(frequency[i]) + 0.5) / (int(frequency[i]) + 0.5))
            for term, i in term_ids.items()
        }
        self._unseen_idf = math.log(1.0 + (self.size + 0.5) / 0.5)
        idf = np.array(list(self._idf.values()), dtype=np.float64)  # in term id order, as term_ids
        norm = K1 * (1 - B + B * self._lengths / self._average)
        term_of_posting = np.repeat(np.arange(len(term_ids)), frequency)
        # The same arithmetic, in the same order, as idf * count * (K1 + 1) / (count + norm) one posting at a time.
        self._weights = idf[term_of_posting] * counts * (K1 + 1) / (counts + norm[self._documents])

    def vocabulary(self) -> set[str]:
        return set(self._term_ids)

    def idf(self, term: str) -> float:
        return self._idf.get(term, self._unseen_idf)

    def scores(self, query: list[str]) -> np.ndarray:
        """Each document's BM25 score divided by what a document equal to the query would score.

        Terms the corpus has never seen count in the divisor, so a question that is mostly about something
        else scores low everywhere instead of matching on its one familiar word.
        """
        scores = np.zeros(self.size)
        terms = set(query)
        if not terms or not self.size:
            return scores
        for term in terms:
            i = self._term_ids.get(term)
            if i is not None:  # a term has one posting per document it is in: no position twice in one step
                start, end = self._starts[i], self._starts[i + 1]
                scores[self._documents[start:end]] += self._weights[start:end]
        ceiling = sum(self.idf(t) * (K1 + 1) / (1 + K1 * (1 - B + B * len(query) / self._average)) for t in terms)
        return np.clip(scores / ceiling, 0.0, 1.0)
