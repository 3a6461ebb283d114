"""BM25 over normalised terms, with scores scaled to [0, 1] so they can be fused with cosine similarity."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np

K1 = 1.2
B = 0.75


class LexicalIndex:
    """Okapi BM25 (Lucene's always-positive idf) over a fixed list of term lists."""

    def __init__(self, documents: list[list[str]]) -> None:
        self.size = len(documents)
        self._lengths = np.array([len(d) for d in documents], dtype=np.float64)
        self._average = float(self._lengths.mean()) if self.size else 1.0
        self._postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for position, terms in enumerate(documents):
            for term, count in Counter(terms).items():
                self._postings[term].append((position, count))
        self._idf = {
            term: math.log(1.0 + (self.size - len(p) + 0.5) / (len(p) + 0.5)) for term, p in self._postings.items()
        }
        self._unseen_idf = math.log(1.0 + (self.size + 0.5) / 0.5)

    def vocabulary(self) -> set[str]:
        return set(self._postings)

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
        norm = K1 * (1 - B + B * self._lengths / self._average)
        for term in terms:
            for position, count in self._postings.get(term, ()):
                scores[position] += self._idf[term] * count * (K1 + 1) / (count + norm[position])
        ceiling = sum(self.idf(t) * (K1 + 1) / (1 + K1 * (1 - B + B * len(query) / self._average)) for t in terms)
        return np.clip(scores / ceiling, 0.0, 1.0)
