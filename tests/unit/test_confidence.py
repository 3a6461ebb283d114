"""The confidence model: a probability in [0, 1] from ranking evidence, and its logistic fit."""

from __future__ import annotations

from bot.retrieval.confidence import ConfidenceModel, features, fit_weights
from bot.retrieval.knowledge_index import IndexRecord
from bot.retrieval.retriever import Candidate


def candidate(score: float) -> Candidate:
    return Candidate("faq:x", IndexRecord("faq:x:0", "x", {}), score, score, score)


def test_confidence_is_a_probability_that_grows_with_evidence_and_margin() -> None:
    model = ConfidenceModel()
    weak = model.confidence([candidate(0.3), candidate(0.29)])
    strong = model.confidence([candidate(0.9), candidate(0.4)])
    assert 0.0 <= weak < strong <= 1.0
    assert model.confidence([]) == 0.0


def test_one_word_questions_count_as_weaker_evidence() -> None:
    model = ConfidenceModel()
    ranking = [candidate(0.8), candidate(0.5)]
    assert model.confidence(ranking, query_terms=1) < model.confidence(ranking, query_terms=4)
    assert features(ranking, 1)["short"] == 1.0 and features(ranking, 5)["short"] == 0.0


def test_fit_separates_right_from_wrong_rankings() -> None:
    rows = [features([candidate(s), candidate(s - m)], 3) for s, m in [(0.9, 0.3), (0.85, 0.25), (0.8, 0.3)]]
    rows += [features([candidate(s), candidate(s - m)], 3) for s, m in [(0.5, 0.01), (0.45, 0.02), (0.55, 0.0)]]
    model = ConfidenceModel(fit_weights(rows, [True, True, True, False, False, False]))
    assert model.confidence([candidate(0.85), candidate(0.55)]) > 0.8
    assert model.confidence([candidate(0.5), candidate(0.5)]) < 0.2
