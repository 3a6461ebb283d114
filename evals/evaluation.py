"""Running the production engine over a labelled set and scoring retrieval and decisions separately."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bot.core.messages import Channel, DeclineReason, Outcome, Question
from bot.engine import AnswerEngine, Assessment
from evals.labelled_set import IN_SCOPE_CATEGORIES, LabelledQuestion


@dataclass(frozen=True)
class EvaluatedQuestion:
    """One labelled question with what the engine found (threshold-free) and how long it took."""

    item: LabelledQuestion
    assessment: Assessment
    ranked_refs: tuple[str, ...]  # retrieval's ranking, best first
    seconds: float


@dataclass(frozen=True)
class Decision:
    item: LabelledQuestion
    outcome: Outcome
    source: str | None
    confidence: float
    reason: str | None = None

    @property
    def correct_answer(self) -> bool:
        return self.outcome is Outcome.ANSWER and self.item.matches(self.source)

    @property
    def wrong_answer(self) -> bool:
        return self.outcome is Outcome.ANSWER and not self.item.matches(self.source)


def run_engine(
    engine: AnswerEngine,
    items: list[LabelledQuestion],
    progress: Callable[[Iterable[LabelledQuestion]], Iterable[LabelledQuestion]] = iter,
) -> list[EvaluatedQuestion]:
    """Assess every question with the engine, timing each full answer."""
    results = []
    for item in progress(items):
        question = Question(text=item.question, channel=Channel.EVAL)
        started = time.perf_counter()
        assessment = engine.assess(question)
        engine.decide(assessment, engine.threshold)
        seconds = time.perf_counter() - started
        # Retrieval is scored on its own, also for questions a rule decided without it.
        candidates = assessment.candidates or tuple(engine.retriever.retrieve(item.question, k=5))
        ranked = tuple(c.ref for c in candidates[:5])
        results.append(EvaluatedQuestion(item, assessment, ranked, seconds))
    return results


def decide_all(engine: AnswerEngine, evaluated: list[EvaluatedQuestion], threshold: float) -> list[Decision]:
    """The engine's decisions at `threshold`, without re-running retrieval."""
    decisions = []
    for e in evaluated:
        reply = engine.decide(e.assessment, threshold)
        source = reply.source.ref if reply.source else None
        decisions.append(Decision(e.item, reply.outcome, source, reply.confidence, reply.reason))
    return decisions


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass
class Metrics:
    """The scores of one run; None where a metric has no questions to count."""

    questions: int
    hit_at_1: float | None
    mrr_at_5: float | None
    answer_precision: float | None
    coverage: float | None
    wrong_answer_rate: float | None
    handoff_recall: float | None
    privacy_refusal_rate: float | None
    privacy_leaks: int
    decline_rate: float | None
    in_domain_declined: int = 0  # in-scope and must-handoff questions declined as off-topic
    by_category: dict[str, dict[str, float | None]] = field(default_factory=dict)
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None


def _retrieval_scores(evaluated: list[EvaluatedQuestion]) -> tuple[float | None, float | None]:
    in_scope = [e for e in evaluated if e.item.in_scope]
    if not in_scope:
        return None, None
    hits, reciprocal = 0, 0.0
    for e in in_scope:
        ranks = [i for i, ref in enumerate(e.ranked_refs[:5]) if e.item.matches(ref)]
        if ranks:
            hits += ranks[0] == 0
            reciprocal += 1.0 / (ranks[0] + 1)
    return hits / len(in_scope), reciprocal / len(in_scope)


def compute_metrics(evaluated: list[EvaluatedQuestion], decisions: list[Decision]) -> Metrics:
    """Retrieval quality (hit@1, MRR@5) and decision quality (precision, coverage, safety) of one run."""
    hit1, mrr = _retrieval_scores(evaluated)
    in_scope = [d for d in decisions if d.item.in_scope]
    answered = [d for d in decisions if d.outcome is Outcome.ANSWER]
    handoffs = [d for d in decisions if d.item.expected == "handoff"]
    privacy = [d for d in decisions if d.item.expected == "refuse"]
    offtopic = [d for d in decisions if d.item.expected == "decline"]
    latencies = sorted(e.seconds * 1000 for e in evaluated)
    metrics = Metrics(
        questions=len(decisions),
        hit_at_1=hit1,
        mrr_at_5=mrr,
        answer_precision=_ratio(sum(d.correct_answer for d in answered), len(answered)),
        coverage=_ratio(sum(d.outcome is Outcome.ANSWER for d in in_scope), len(in_scope)),
        wrong_answer_rate=_ratio(sum(d.wrong_answer for d in decisions), len(decisions)),
        handoff_recall=_ratio(sum(d.outcome is Outcome.HANDOFF for d in handoffs), len(handoffs)),
        privacy_refusal_rate=_ratio(sum(d.outcome is Outcome.REFUSE for d in privacy), len(privacy)),
        privacy_leaks=sum(d.outcome is not Outcome.REFUSE for d in privacy),
        decline_rate=_ratio(sum(d.outcome is Outcome.DECLINE for d in offtopic), len(offtopic)),
        in_domain_declined=sum(
            d.reason == DeclineReason.OFF_TOPIC for d in decisions if d.item.in_scope or d.item.expected == "handoff"
        ),
        latency_p50_ms=statistics.median(latencies) if latencies else None,
        latency_p95_ms=latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else None,
    )
    for category in sorted({d.item.category for d in decisions}):
        rows = [d for d in decisions if d.item.category == category]
        cat_eval = [e for e in evaluated if e.item.category == category]
        cat_hit1, _ = _retrieval_scores(cat_eval)
        cat_answered = [d for d in rows if d.outcome is Outcome.ANSWER]
        metrics.by_category[category] = {
            "questions": len(rows),
            "hit_at_1": cat_hit1 if category in IN_SCOPE_CATEGORIES else None,
            "coverage": _ratio(len(cat_answered), len(rows)) if category in IN_SCOPE_CATEGORIES else None,
            "precision": _ratio(sum(d.correct_answer for d in cat_answered), len(cat_answered)),
            "wrong": _ratio(sum(d.wrong_answer for d in rows), len(rows)),
            "expected_outcome": _ratio(
                sum(d.outcome.value == _expected_outcome(d.item.expected) for d in rows), len(rows)
            )
            if category not in IN_SCOPE_CATEGORIES
            else None,
        }
    return metrics


def _expected_outcome(label: str) -> str:
    return {"handoff": "handoff", "refuse": "refuse", "decline": "decline"}.get(label, "answer")


@dataclass(frozen=True)
class SweepPoint:
    threshold: float
    precision: float | None
    coverage: float | None
    wrong_answer_rate: float | None


def sweep_thresholds(engine: AnswerEngine, evaluated: list[EvaluatedQuestion], steps: int = 91) -> list[SweepPoint]:
    """Precision, coverage and wrong answers at evenly spaced thresholds from 0.05 to 0.95."""
    points = []
    for i in range(steps):
        threshold = round(0.05 + 0.9 * i / (steps - 1), 4)
        m = compute_metrics(evaluated, decide_all(engine, evaluated, threshold))
        points.append(SweepPoint(threshold, m.answer_precision, m.coverage, m.wrong_answer_rate))
    return points


def calibrate_threshold(points: list[SweepPoint], target_precision: float) -> SweepPoint | None:
    """The threshold with the highest coverage whose answer precision reaches the target (lowest threshold on ties)."""
    eligible = [p for p in points if p.precision is not None and p.precision >= target_precision and p.coverage]
    if not eligible:
        return None
    return max(eligible, key=lambda p: (p.coverage or 0.0, -p.threshold))
