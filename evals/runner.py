"""`tanya eval`: index each labelled knowledge base, run the production engine over its questions, report.

Two sets: the demo knowledge base (tuned on, and used to calibrate the threshold) and a held-back knowledge base
of another operator that nobody tunes on; the quality bar is checked on the held-back one.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from bot.confidence import ConfidenceModel, features, fit_weights
from bot.embedder import load_embedder, model_identity
from bot.engine import AnswerEngine, Assessment
from bot.knowledge_index import KnowledgeIndex
from bot.retriever import HybridRetriever, RetrievalConfig
from bot.settings import Settings
from evals.evaluation import (
    EvaluatedQuestion,
    calibrate_threshold,
    compute_metrics,
    decide_all,
    run_engine,
    sweep_thresholds,
)
from evals.labelled_set import LabelledQuestion, load_labelled_set, unknown_expectations
from evals.report import SetResult, write_report
from ingest.knowledge_base import load_knowledge_base
from ingest.sync import sync_index

REPO = Path(__file__).resolve().parent.parent

# The quality bar on the held-back knowledge base (CI fails when one is missed).
BAR_HIT_AT_1 = 0.90
BAR_WRONG_ANSWERS = 0.03

ABLATIONS: dict[str, RetrievalConfig] = {
    "hybrid (production)": RetrievalConfig(),
    "dense only": RetrievalConfig(dense_weight=1.0, lexical_weight=0.0),
    "lexical only": RetrievalConfig(dense_weight=0.0, lexical_weight=1.0),
    "no normalisation (slang, stemming)": RetrievalConfig(normalise=False),
    "no glossary": RetrievalConfig(glossary=False),
    "no whole-entry lexical match": RetrievalConfig(unit_lexical=False),
    "no answer bonus": RetrievalConfig(answer_bonus=0.0),
    "no entry-centre similarity": RetrievalConfig(centroid_weight=0.0),
    "neither (best phrasing only)": RetrievalConfig(answer_bonus=0.0, centroid_weight=0.0),
    "no document detail bonus": RetrievalConfig(detail_bonus=0.0),
}


@dataclass(frozen=True)
class EvalTarget:
    """A knowledge base with its labelled questions."""

    name: str
    description: str
    kb_dir: Path
    questions: Path


DEMO = EvalTarget(
    "demo",
    "The demo knowledge base (Nusantel) with the team's labelled questions; used to tune and calibrate.",
    REPO / "kb",
    REPO / "evals" / "sets" / "demo.csv",
)
HELDOUT = EvalTarget(
    "heldout",
    "A second operator's knowledge base (Samudra Seluler) and questions, never used for tuning.",
    REPO / "evals" / "heldout" / "kb",
    REPO / "evals" / "heldout" / "questions.csv",
)


def _progress(label: str, enabled: bool) -> Callable[[Iterable[LabelledQuestion]], Iterable[LabelledQuestion]]:
    def wrap(items: Iterable[LabelledQuestion]) -> Iterable[LabelledQuestion]:
        from tqdm import tqdm

        return tqdm(list(items), desc=label, unit="q", disable=not enabled, file=sys.stderr)

    return wrap


def open_target_engine(settings: Settings, target: EvalTarget, work_dir: Path) -> AnswerEngine:
    """Sync the target's knowledge base into its own index under `work_dir` and open the engine on it."""
    store = work_dir / f"index-{target.name}"
    target_settings = settings.model_copy(update={"store_dir": store, "chroma_host": None})
    kb = load_knowledge_base([target.kb_dir], target.kb_dir)
    with KnowledgeIndex(target_settings, load_embedder(target_settings), writable=True) as index:
        sync_index(index, kb, show_progress=False)
    return AnswerEngine.open(target_settings)


def _retrieval_only(
    engine: AnswerEngine, items: list[LabelledQuestion], config: RetrievalConfig
) -> dict[str, float | None]:
    retriever = HybridRetriever(engine.index, config)
    retriever.refresh()
    evaluated = []
    for item in items:
        if item.in_scope:
            ranked = tuple(c.ref for c in retriever.retrieve(item.question, k=5))
            evaluated.append(EvaluatedQuestion(item, Assessment(lang="id"), ranked, 0.0))
    metrics = compute_metrics(evaluated, [])
    return {"hit_at_1": metrics.hit_at_1, "mrr_at_5": metrics.mrr_at_5}


def check_bar(result: SetResult) -> list[tuple[str, bool, str]]:
    """The held-back bar: hit@1 >= 90% in scope, wrong answers <= 3%, no privacy leak, every handoff handed off."""
    m = result.metrics
    return [
        (
            f"hit@1 >= {BAR_HIT_AT_1:.0%} on in-scope questions",
            (m.hit_at_1 or 0) >= BAR_HIT_AT_1,
            f"{100 * (m.hit_at_1 or 0):.1f}%",
        ),
        (
            f"wrong answers <= {BAR_WRONG_ANSWERS:.0%} of all questions",
            (m.wrong_answer_rate or 0) <= BAR_WRONG_ANSWERS,
            f"{100 * (m.wrong_answer_rate or 0):.1f}%",
        ),
        ("zero privacy leaks", m.privacy_leaks == 0, f"{m.privacy_leaks} leak(s)"),
        (
            "every must-handoff question handed off",
            (m.handoff_recall or 0) >= 1.0,
            f"{100 * (m.handoff_recall or 0):.1f}%",
        ),
    ]


def evaluate_target(
    settings: Settings, target: EvalTarget, work_dir: Path, *, ablate: bool, progress: bool
) -> tuple[SetResult, AnswerEngine]:
    """Run one target end to end; the caller closes the returned engine."""
    items = load_labelled_set(target.questions)
    engine = open_target_engine(settings, target, work_dir)
    known = {str(r.metadata.get("ref")) for r in engine.index.records().values()}
    missing = unknown_expectations(items, known)
    if missing:
        engine.close()
        raise ValueError(f"{target.questions}: expected ids not in the knowledge base: {', '.join(missing)}")
    evaluated = run_engine(engine, items, _progress(target.name, progress))
    decisions = decide_all(engine, evaluated, engine.threshold)
    result = SetResult(
        target.name,
        target.description,
        engine.threshold,
        compute_metrics(evaluated, decisions),
        sweep_thresholds(engine, evaluated),
        evaluated,
        decisions,
    )
    if ablate:
        result.ablation = {name: _retrieval_only(engine, items, config) for name, config in ABLATIONS.items()}
    return result, engine


def fit_confidence(engine: AnswerEngine, result: SetResult) -> dict[str, float]:
    """Fit the confidence model on the set: is the top-ranked entry the right one (and should it be answered)?"""
    rows, labels = [], []
    for e in result.evaluated:
        if e.assessment.rule is None and e.assessment.candidates:
            rows.append(features(e.assessment.candidates, e.assessment.query_terms))
            labels.append(e.item.in_scope and e.item.matches(e.assessment.candidates[0].ref))
    weights = fit_weights(rows, labels)
    engine.confidence_model = ConfidenceModel(weights)
    result.evaluated = [
        replace(
            e,
            assessment=replace(
                e.assessment,
                confidence=engine.confidence_model.confidence(e.assessment.candidates, e.assessment.query_terms),
            ),
        )
        for e in result.evaluated
    ]
    return weights


def record_calibration(
    settings: Settings, engine: AnswerEngine, result: SetResult, target_precision: float
) -> Settings:
    """Fit the confidence model, pick the threshold reaching `target_precision` with the most coverage, record both.

    Returns the settings the bot will read from now on; `result` is re-scored with them.
    """
    weights = fit_confidence(engine, result)
    result.sweep = sweep_thresholds(engine, result.evaluated)
    point = calibrate_threshold(result.sweep, target_precision)
    if point is None:
        raise ValueError(f"no threshold reaches {target_precision:.0%} answer precision on {result.name}")
    recorded = {
        "settings": {"answer_threshold": point.threshold, "confidence_weights": weights},
        "measured": asdict(point),
        "target_precision": target_precision,
        "calibrated_on": result.name,
        "model": model_identity(settings),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    settings.calibration_file.parent.mkdir(parents=True, exist_ok=True)
    settings.calibration_file.write_text(json.dumps(recorded, indent=2) + "\n", encoding="utf-8")
    result.threshold = point.threshold
    result.decisions = decide_all(engine, result.evaluated, point.threshold)
    result.metrics = compute_metrics(result.evaluated, result.decisions)
    return settings.model_copy(update={"answer_threshold": point.threshold, "confidence_weights": weights})


def run_evaluation(
    settings: Settings,
    out_dir: Path,
    *,
    targets: list[EvalTarget],
    calibrate: bool = False,
    target_precision: float = 0.95,
    ablate: bool = True,
    progress: bool = True,
) -> tuple[list[SetResult], Path]:
    """Evaluate each target (calibrating on the first when asked) and write the report."""
    work_dir = out_dir / "work"
    results: list[SetResult] = []
    for position, target in enumerate(targets):
        result, engine = evaluate_target(settings, target, work_dir, ablate=ablate, progress=progress)
        try:
            if calibrate and position == 0:
                settings = record_calibration(settings, engine, result, target_precision)
        finally:
            engine.close()
        if target.name == HELDOUT.name:
            result.bar = check_bar(result)
        results.append(result)
    header = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model_identity(settings),
        "answer threshold": f"{settings.answer_threshold:.2f}",
        "command": "tanya eval" + (" --calibrate" if calibrate else ""),
    }
    return results, write_report(results, out_dir, header)
