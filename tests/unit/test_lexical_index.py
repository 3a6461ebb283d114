"""BM25 scores of the lexical index: the precomputed postings give what scoring one posting at a time gives."""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np

from bot.retrieval.lexical_index import K1, B, LexicalIndex


def reference_scores(documents: list[list[str]], query: list[str]) -> np.ndarray:
    """Okapi BM25 with Lucene's idf, one document and term at a time, divided by a query-equal document's score."""
    lengths = [len(d) for d in documents]
    average = sum(lengths) / len(documents)
    using = Counter(term for d in documents for term in set(d))

    def idf(term: str) -> float:
        return math.log(1.0 + (len(documents) - using[term] + 0.5) / (using[term] + 0.5))

    terms = set(query)
    scores = np.zeros(len(documents))
    for term in terms:
        for position, document in enumerate(documents):
            count = document.count(term)
            if count:
                norm = K1 * (1 - B + B * lengths[position] / average)
                scores[position] += idf(term) * count * (K1 + 1) / (count + norm)
    ceiling = sum(idf(t) * (K1 + 1) / (1 + K1 * (1 - B + B * len(query) / average)) for t in terms)
    return np.clip(scores / ceiling, 0.0, 1.0)


def test_scores_match_scoring_each_posting() -> None:
    rng = random.Random(3)
    vocabulary = [f"w{i}" for i in range(60)]
    documents = [[rng.choice(vocabulary) for _ in range(rng.randint(0, 12))] for _ in range(300)]
    index = LexicalIndex(documents)
    for _ in range(50):
        query = [rng.choice([*vocabulary, "unseen"]) for _ in range(rng.randint(1, 6))]
        assert np.allclose(index.scores(query), reference_scores(documents, query), rtol=0, atol=1e-12)


def test_unseen_terms_count_in_the_divisor_and_empty_cases() -> None:
    index = LexicalIndex([["pulsa", "cek"], ["kuota"], []])
    assert index.vocabulary() == {"pulsa", "cek", "kuota"}
    assert index.idf("roaming") > index.idf("pulsa")
    assert index.scores(["pulsa", "cek"])[0] == 1.0  # a document equal to the query scores 1
    assert 0 < index.scores(["pulsa", "roaming"])[0] < 0.6
    assert index.scores([]).tolist() == [0.0, 0.0, 0.0]
    assert LexicalIndex([]).scores(["pulsa"]).tolist() == []
