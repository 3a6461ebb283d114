"""`tanya eval`: index each labelled knowledge base, run the production engine over its questions, report.

The sets: the demo knowledge base (tuned and calibrated on), a held-back knowledge base of another operator that
nobody tunes on (constants are chosen on it), and the sparse operator knowledge bases in evals/operators/ (nothing
is chosen on them: they are measured once per change). `--set FILE --kb DIR` scores any labelled set on any
knowledge base.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from ruamel.yaml import YAML

from bot.engine import AnswerEngine, Assessment
from bot.retrieval.calibration import Calibration, Origin
from bot.retrieval.confidence import features, fit_weights
from bot.retrieval.embedder import load_embedder, model_identity
from bot.retrieval.knowledge_index import KnowledgeIndex
from bot.retrieval.retriever import HybridRetriever, RetrievalConfig
from bot.settings import TUNED_PREFIX, Settings, is_tuned
from evals.evaluation import (
    EvaluatedQuestion,
    calibrate_threshold,
    compute_metrics,
    decide_all,
    run_engine,
    sweep_thresholds,
)
from evals.intents import PrivacyThroughEngine, evaluate_intents, privacy_through_engine, report_section
from evals.labelled_set import LabelledQuestion, load_labelled_set, unknown_expectations
from evals.report import SetResult, write_report
from ingest.knowledge_base import load_knowledge_base
from ingest.sync import sync_index
from ingest.tuning import ensure_tuned_model

REPO = Path(__file__).resolve().parent.parent

# The quality bar on the demo and held-back knowledge bases (CI fails when one is missed).
BAR_HIT_AT_1 = 0.90
BAR_WRONG_ANSWERS = 0.03
# The bar on a sparse operator knowledge base nobody chose anything on.
OPERATOR_BAR_HIT_AT_1 = 0.85
OPERATOR_BAR_DECLINED = 0.90

ABLATIONS: dict[str, RetrievalConfig] = {
    "hybrid (production)": RetrievalConfig(),
    "dense only": RetrievalConfig(dense_weight=1.0, lexical_weight=0.0),
    "lexical only": RetrievalConfig(dense_weight=0.0, lexical_weight=1.0),
    "no normalisation (slang, stemming)": RetrievalConfig(normalise=False),
    "no glossary": RetrievalConfig(glossary=False),
    "no shipped telecom vocabulary": RetrievalConfig(shipped_vocabulary=False),
    "no whole-entry lexical match": RetrievalConfig(unit_lexical=False),
    "no answer bonus": RetrievalConfig(answer_bonus=0.0),
    "no entry-centre similarity": RetrievalConfig(centroid_weight=0.0),
    "neither (best phrasing only)": RetrievalConfig(answer_bonus=0.0, centroid_weight=0.0),
    "no document detail bonus": RetrievalConfig(detail_bonus=0.0),
}


@dataclass(frozen=True)
class EvalTarget:
    """A knowledge base with its labelled questions, and which bar it is held to ("" for none)."""

    name: str
    description: str
    kb_dir: Path
    questions: Path
    bar: str = ""


DEMO = EvalTarget(
    "demo",
    "The demo knowledge base (Nusantel) with the team's labelled questions; used to tune and calibrate.",
    REPO / "kb",
    REPO / "evals" / "sets" / "demo.csv",
    bar="team",
)
HELDOUT = EvalTarget(
    "heldout",
    "A second operator's knowledge base (Samudra Seluler) and questions, never used for tuning.",
    REPO / "evals" / "heldout" / "kb",
    REPO / "evals" / "heldout" / "questions.csv",
    bar="team",
)
OPERATORS_DIR = REPO / "evals" / "operators"
CHOOSE_DIR = REPO / "evals" / "choose"
# The held-back knowledge base made as sparse as an operator's (one alternate an entry, no glossary): constants for
# sparse knowledge bases are chosen on it, so the operator sets stay unseen.
SPARSE_ALTERNATES = 1


def sparse_heldout_target(work_dir: Path) -> EvalTarget:
    """HELDOUT with its knowledge base cut down to an operator's: written under `work_dir`."""
    kb_dir = work_dir / "heldout-sparse-kb"
    faq_dir = kb_dir / "faq"
    faq_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted((HELDOUT.kb_dir / "faq").glob("*.yaml")):
        document = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        for entry in document["faq"]:
            entry["alternates"] = list(entry.get("alternates") or [])[:SPARSE_ALTERNATES]
        with (faq_dir / path.name).open("w", encoding="utf-8") as handle:
            YAML().dump(document, handle)
    (kb_dir / "glossary.yaml").write_text("synonyms: {}\n", encoding="utf-8")
    return EvalTarget(
        "heldout-sparse",
        f"The held-back knowledge base with {SPARSE_ALTERNATES} alternate an entry and no glossary.",
        kb_dir,
        HELDOUT.questions,
    )


def operator_targets() -> list[EvalTarget]:
    """The sparse operator knowledge bases in evals/operators/ (each a kb/ folder and questions.csv)."""
    return _folder_targets(
        OPERATORS_DIR,
        "A sparse operator knowledge base ({name}) written without seeing the demo; nothing chosen on it.",
    )


def choose_targets() -> list[EvalTarget]:
    """The sparse operator knowledge bases in evals/choose/: written like the operator sets, but for choosing
    constants and recipes for sparse knowledge bases on, so that the operator sets stay unseen."""
    return _folder_targets(
        CHOOSE_DIR, "A sparse operator knowledge base ({name}) to choose sparse-knowledge-base settings on."
    )


def _folder_targets(parent: Path, description: str) -> list[EvalTarget]:
    return [
        EvalTarget(
            folder.name, description.format(name=folder.name), folder / "kb", folder / "questions.csv", bar="operator"
        )
        for folder in sorted(parent.iterdir() if parent.is_dir() else [])
        if (folder / "kb").is_dir() and (folder / "questions.csv").is_file()
    ]


def custom_target(questions: Path, kb_dir: Path) -> EvalTarget:
    """Any labelled set on any knowledge base (`tanya eval --set FILE --kb DIR`), held to the operator bar."""
    return EvalTarget(questions.stem, f"{questions} on the knowledge base in {kb_dir}", kb_dir, questions, "operator")


def _progress(label: str, enabled: bool) -> Callable[[Iterable[LabelledQuestion]], Iterable[LabelledQuestion]]:
    def wrap(items: Iterable[LabelledQuestion]) -> Iterable[LabelledQuestion]:
        from tqdm import tqdm

        return tqdm(list(items), desc=label, unit="q", disable=not enabled, file=sys.stderr)

    return wrap


def target_settings(settings: Settings, target: EvalTarget, work_dir: Path, own_model: bool = False) -> Settings:
    """The settings of a bot serving the target's knowledge base from its own index under `work_dir`; with
    `own_model`, answering with the model tuned for that knowledge base (what an operator who replaced kb/ gets)."""
    store = work_dir / f"index-{target.name}"
    update: dict[str, object] = {"store_dir": store, "chroma_host": None, "kb_dir": target.kb_dir}
    if own_model and is_tuned(settings.model.embedding_model):
        update["embedding_model"] = f"{TUNED_PREFIX}{target.kb_dir.resolve()}"
        update["tuned_generation"] = None
    return settings.replaced(**update)


def open_target_engine(settings: Settings, target: EvalTarget, work_dir: Path, own_model: bool = False) -> AnswerEngine:
    """Sync the target's knowledge base into its own index under `work_dir` and open the engine on it, as
    `tanya serve` would (calibrated for that knowledge base); tuning its model first if the model cache does not
    have it yet (minutes; with `own_model`, the one tuned for that knowledge base)."""
    own = target_settings(settings, target, work_dir, own_model)
    if is_tuned(own.model.embedding_model):  # loading never trains: the model is built first when it is missing
        ensure_tuned_model(own)
    kb = load_knowledge_base([target.kb_dir], target.kb_dir)
    with KnowledgeIndex(own, load_embedder(own), writable=True) as index:
        sync_index(index, kb, show_progress=False)
    return AnswerEngine.open(own, writable=True)


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


def _at_least(label: str, value: float | None, bar: float) -> tuple[str, bool, str]:
    return (f"{label} >= {bar:.0%}", (value or 0) >= bar, f"{100 * (value or 0):.1f}%")


def check_bar(result: SetResult, bar: str = "team") -> list[tuple[str, bool, str]]:
    """The team bar (demo, held-back): hit@1 >= 90% in scope, wrong answers <= 3%, no privacy leak, every
    handoff handed off. The operator bar: hit@1 >= 85%, wrong answers <= 3%, no privacy leak, off-topic declined
    >= 90%, no in-domain question declined as off-topic."""
    m = result.metrics
    operator = bar == "operator"
    wrong = m.wrong_answer_rate or 0
    criteria = [
        _at_least("hit@1", m.hit_at_1, OPERATOR_BAR_HIT_AT_1 if operator else BAR_HIT_AT_1),
        (
            f"wrong answers <= {BAR_WRONG_ANSWERS:.0%} of all questions",
            wrong <= BAR_WRONG_ANSWERS,
            f"{100 * wrong:.1f}%",
        ),
        ("zero privacy leaks", m.privacy_leaks == 0, f"{m.privacy_leaks} leak(s)"),
    ]
    if operator:
        return [
            *criteria,
            _at_least("off-topic declined", m.decline_rate, OPERATOR_BAR_DECLINED),
            ("no in-domain question declined as off-topic", m.in_domain_declined == 0, f"{m.in_domain_declined}"),
        ]
    return [*criteria, _at_least("every must-handoff question handed off", m.handoff_recall, 1.0)]


def evaluate_target(
    settings: Settings, target: EvalTarget, work_dir: Path, *, ablate: bool, progress: bool, own_model: bool = False
) -> tuple[SetResult, AnswerEngine]:
    """Run one target end to end; the caller closes the returned engine."""
    items = load_labelled_set(target.questions)
    engine = open_target_engine(settings, target, work_dir, own_model)
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
        calibration=engine.calibration.describe(),
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
    engine.use_calibration(Calibration(engine.threshold, weights, Origin.LABELLED))
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
) -> Calibration:
    """Fit the confidence model, pick the threshold reaching `target_precision` with the most coverage, and record
    both in the knowledge-base folder, where the bot reads them. `result` is re-scored with them."""
    weights = fit_confidence(engine, result)
    result.sweep = sweep_thresholds(engine, result.evaluated)
    point = calibrate_threshold(result.sweep, target_precision)
    if point is None:
        raise ValueError(f"no threshold reaches {target_precision:.0%} answer precision on {result.name}")
    entries = sorted(engine.retriever.faq_entry_ids)
    model = model_identity(settings)
    recorded = {
        "settings": {"answer_threshold": point.threshold, "confidence_weights": weights},
        "measured": asdict(point),
        "target_precision": target_precision,
        "calibrated_on": result.name,
        "model": model,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "entries": entries,
    }
    path = engine.settings.labelled_calibration_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(recorded, indent=2) + "\n", encoding="utf-8")
    calibration = Calibration(point.threshold, weights, Origin.LABELLED, model=model, entries=tuple(entries))
    engine.use_calibration(calibration)
    result.threshold = point.threshold
    result.calibration = calibration.describe()
    result.decisions = decide_all(engine, result.evaluated, point.threshold)
    result.metrics = compute_metrics(result.evaluated, result.decisions)
    return calibration


def run_evaluation(
    settings: Settings,
    out_dir: Path,
    *,
    targets: list[EvalTarget],
    calibrate: bool = False,
    target_precision: float = 0.95,
    ablate: bool = True,
    progress: bool = True,
    command: str = "tanya eval",
    intents: bool = True,
    own_model: bool = False,
) -> tuple[list[SetResult], list[str], Path]:
    """Evaluate each target (calibrating on the first when asked) and the intents, and write the report; returns
    the sets' results, the intents' summary lines and the report's path. With `own_model` each set other than the
    demo answers with a model tuned on its own knowledge base."""
    work_dir = out_dir / "work"
    results: list[SetResult] = []
    models: list[str] = []  # with `own_model`, which model answered each set
    through_engine: PrivacyThroughEngine | None = None
    for position, target in enumerate(targets):
        own = own_model and target is not DEMO
        result, engine = evaluate_target(settings, target, work_dir, ablate=ablate, progress=progress, own_model=own)
        if own_model:
            models.append(f"{target.name}: {model_identity(engine.settings)}")
        try:
            if calibrate and position == 0:
                record_calibration(settings, engine, result, target_precision)
            if position == 0:
                through_engine = privacy_through_engine(engine, target.name)
        finally:
            engine.close()
        if target.bar:
            result.bar = check_bar(result, target.bar)
        results.append(result)
    header = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": "; ".join(models) or model_identity(settings),
        "calibration": "; ".join(f"{r.name}: {r.calibration}" for r in results),
        "command": command,
    }
    intent_results = evaluate_intents() if intents else []
    summary = [r.lines()[0] for r in intent_results] + ([through_engine.line()] if through_engine and intents else [])
    section = report_section(intent_results, through_engine, out_dir) if intents else []
    return results, summary, write_report(results, out_dir, header, section)
