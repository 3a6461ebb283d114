"""Scoring of evaluation runs: retrieval (hit@1, MRR@5) and decisions (precision, coverage, safety), threshold
calibration, and the written report — on small hand-made runs whose right answers are known."""

from __future__ import annotations

from pathlib import Path

from bot.core.messages import Outcome
from bot.engine import Assessment
from bot.retrieval.knowledge_index import IndexRecord
from bot.retrieval.retriever import Candidate
from evals.evaluation import Decision, EvaluatedQuestion, SweepPoint, calibrate_threshold, compute_metrics
from evals.labelled_set import LabelledQuestion, load_labelled_set, unknown_expectations
from evals.report import SetResult, write_report


def candidate(ref: str, score: float) -> Candidate:
    record = IndexRecord(f"faq:{ref}:0", ref, {"unit": f"faq:{ref}", "ref": ref, "kind": "faq"})
    return Candidate(f"faq:{ref}", record, score, score, score)


def evaluated(
    question: str, expected: str, category: str, ranked: tuple[str, ...], confidence: float
) -> EvaluatedQuestion:
    item = LabelledQuestion(question, expected, category)
    candidates = tuple(candidate(ref, confidence) for ref in ranked)
    return EvaluatedQuestion(item, Assessment("id", candidates=candidates, confidence=confidence), ranked, 0.01)


RUN = [
    evaluated("cek pulsa", "cek-pulsa", "informal", ("cek-pulsa", "cek-kuota"), 0.9),
    evaluated("check data", "cek-kuota", "english", ("cek-pulsa", "cek-kuota"), 0.7),
    evaluated("apn", "setting-apn", "formal", ("x", "y", "z", "setting-apn"), 0.4),
    evaluated("mau orang", "handoff", "handoff", (), 0.0),
    evaluated("punya siapa 0812", "refuse", "privacy", (), 0.0),
    evaluated("resep", "decline", "offtopic", (), 0.0),
]
DECISIONS = [
    Decision(RUN[0].item, Outcome.ANSWER, "cek-pulsa", 0.9),  # right
    Decision(RUN[1].item, Outcome.ANSWER, "cek-pulsa", 0.7),  # wrong entry
    Decision(RUN[2].item, Outcome.HANDOFF, None, 0.4),  # not answered
    Decision(RUN[3].item, Outcome.HANDOFF, None, 1.0),
    Decision(RUN[4].item, Outcome.HANDOFF, None, 0.2),  # a privacy request not refused
    Decision(RUN[5].item, Outcome.DECLINE, None, 0.1),
]


def test_retrieval_and_decision_metrics() -> None:
    m = compute_metrics(RUN, DECISIONS)
    assert m.hit_at_1 == 1 / 3
    assert abs((m.mrr_at_5 or 0) - (1 + 1 / 2 + 1 / 4) / 3) < 1e-9
    assert m.answer_precision == 1 / 2
    assert m.coverage == 2 / 3
    assert m.wrong_answer_rate == 1 / 6
    assert m.handoff_recall == 1.0
    assert m.privacy_refusal_rate == 0.0 and m.privacy_leaks == 1
    assert m.decline_rate == 1.0
    assert m.by_category["english"]["wrong"] == 1.0 and m.by_category["informal"]["precision"] == 1.0


def test_document_expectation_matches_any_section() -> None:
    item = LabelledQuestion("denda", "doc:docs/syarat.html", "formal")
    assert item.matches("docs/syarat.html#Denda") and not item.matches("docs/tarif.md#Denda")
    assert unknown_expectations([item, LabelledQuestion("x", "no-such-id", "formal")], {"docs/syarat.html#A"}) == [
        "no-such-id"
    ]


def test_calibration_picks_the_most_coverage_that_reaches_the_precision() -> None:
    points = [
        SweepPoint(0.5, 0.90, 0.80, 0.05),
        SweepPoint(0.6, 0.95, 0.60, 0.02),
        SweepPoint(0.7, 0.97, 0.40, 0.01),
        SweepPoint(0.8, 1.00, 0.00, 0.00),
    ]
    assert calibrate_threshold(points, 0.95) == points[1]
    assert calibrate_threshold(points, 0.999) is None  # 100% precision at no coverage is no answer


def test_labelled_set_file_and_report(tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    path.write_text('question,expected,category\n"cek pulsa, dong",cek-pulsa,informal\n', encoding="utf-8")
    assert load_labelled_set(path) == [LabelledQuestion("cek pulsa, dong", "cek-pulsa", "informal")]
    metrics = compute_metrics(RUN, DECISIONS)
    result = SetResult("demo", "a test run", 0.6, metrics, [SweepPoint(0.6, 0.5, 0.66, 0.16)], RUN, DECISIONS)
    report = write_report([result], tmp_path / "report", {"model": "test"})
    text = report.read_text(encoding="utf-8")
    assert "| retrieval hit@1 (in-scope) | 33.3% |" in text and "| wrong answers (of all questions) | 16.7% |" in text
    assert "check data" in text  # the wrong answer is listed under Mistakes
    for chart in ("demo-sweep.png", "demo-confidence.png", "demo-categories.png"):
        assert (tmp_path / "report" / chart).read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "report" / "metrics.json").exists()
