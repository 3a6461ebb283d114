"""The answer threshold and the confidence model's weights, for one knowledge base and one model.

Most trusted first: values set by hand in the settings; a labelled calibration (`tanya eval --calibrate` on real
customer questions, kept in the knowledge-base folder); a self-calibration, which Tanya makes for any knowledge
base by asking its retriever the knowledge base's own phrasings with each one held out (and whole entries held
out, and shipped off-topic questions), kept with the index: the confidence model is fitted on those questions,
and Tanya answers from a fixed confidence on it. A calibration measured for another model or another
knowledge base is never used silently.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from bot.core.telecom_vocabulary import off_topic_questions
from bot.retrieval.confidence import DEFAULT_WEIGHTS, FEATURES, ConfidenceModel, features, fit_weights
from bot.retrieval.retriever import ASKING_ROLES, HybridRetriever

log = logging.getLogger(__name__)

# Self-calibration's folds: each phrasing is asked of a retriever that lacks the fifth of the phrasings it is in.
FOLDS = 5
# A labelled calibration still holds while the knowledge base keeps this share of the entries it was measured on
# (Jaccard overlap of the entry ids): an editor's additions keep it, another operator's knowledge base does not.
LABELLED_MIN_OVERLAP = 0.8
INFO_KEY = "self_calibration"
# Bumped when self-calibration changes, so one stored with an index by an older Tanya is made again.
SELF_METHOD = "fixed-confidence-2"
# Until a knowledge base has phrasings to calibrate on, answers need this much confidence (the default weights).
UNCALIBRATED_THRESHOLD = 0.8


class Origin:
    """Where a calibration came from (shown in the log, the staff page and `tanya ask --json` callers' logs)."""

    SETTINGS = "settings"
    LABELLED = "labelled"
    SELF = "self"


@dataclass(frozen=True)
class Calibration:
    """A threshold and confidence weights, with what they were measured on."""

    threshold: float
    weights: dict[str, float]
    origin: str
    model: str = ""
    content: str = ""  # the retriever's content digest (self-calibration: the same content gives the same one)
    entries: tuple[str, ...] = ()  # FAQ ids of the knowledge base measured on (labelled calibration)
    measured: dict[str, float] = field(default_factory=dict)
    date: str = ""
    method: str = ""  # self-calibration: SELF_METHOD when it was made

    @property
    def confidence_model(self) -> ConfidenceModel:
        return _model_for(tuple(sorted(self.weights.items())))

    def describe(self) -> str:
        figures = ", ".join(f"{k} {v:.3g}" for k, v in self.measured.items())
        return f"{self.origin} calibration, threshold {self.threshold:.2f}" + (f" ({figures})" if figures else "")

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n"


@lru_cache(maxsize=16)
def _model_for(weights: tuple[tuple[str, float], ...]) -> ConfidenceModel:
    return ConfidenceModel(dict(weights))


def from_settings(threshold: float, weights: dict[str, float] | None) -> Calibration:
    """Values an operator set by hand (TANYA_ANSWER_THRESHOLD, TANYA_CONFIDENCE_WEIGHTS)."""
    return Calibration(threshold, {**DEFAULT_WEIGHTS, **(weights or {})}, Origin.SETTINGS)


def read_labelled(path: Path, model: str, entry_ids: set[str]) -> Calibration | None:
    """The labelled calibration at `path` when it was measured with `model` on (nearly) this knowledge base."""
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
        values = recorded["settings"]
        calibration = Calibration(
            float(values["answer_threshold"]),
            {**DEFAULT_WEIGHTS, **values["confidence_weights"]},
            Origin.LABELLED,
            model=str(recorded.get("model", "")),
            entries=tuple(recorded.get("entries", ())),
            measured=dict(recorded.get("measured", {})),
            date=str(recorded.get("date", "")),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("Ignoring the calibration in %s: it cannot be read (%s)", path, error)
        return None
    if _same_weights(calibration.model, model):
        pass  # the same weights in another folder: a model cache moved, or one named by other settings
    elif calibration.model != model and _model_name(calibration.model) == _model_name(model):
        log.warning(
            "The labelled calibration in %s was measured with other weights of %s (%s, the index uses %s); using it "
            "until `tanya eval --calibrate` measures it again",
            path,
            _model_name(model),
            calibration.model,
            model,
        )
    elif calibration.model != model:
        log.warning(
            "Ignoring the labelled calibration in %s: it was measured with the model %s, the index uses %s "
            "(`tanya eval --calibrate` measures it again)",
            path,
            calibration.model,
            model,
        )
        return None
    overlap = _jaccard(set(calibration.entries), entry_ids)
    if overlap < LABELLED_MIN_OVERLAP:
        log.warning(
            "Ignoring the labelled calibration in %s: it was measured on another knowledge base (%.0f%% of its "
            "entries in common); using a self-calibration",
            path,
            100 * overlap,
        )
        return None
    return calibration


def _model_name(model: str) -> str:
    """A model identity without its weights' fingerprint, and for a tuned model without the hash of the folder it
    was tuned from: a re-tune of one recipe, or the same knowledge base in another clone, keeps the name."""
    name = model.split("#", 1)[0]
    return _TUNED_FOLDER_HASH.sub("", name) if name.startswith("tuned:") else name


_TUNED_FOLDER_HASH = re.compile(r"-[0-9a-f]{10}$")


def _same_weights(recorded: str, model: str) -> bool:
    """Whether two model identities name the same weights (their fingerprints after `#` are equal)."""
    fingerprints = [identity.partition("#")[2] for identity in (recorded, model)]
    return bool(fingerprints[0]) and fingerprints[0] == fingerprints[1]


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def read_stored(raw: str | None) -> Calibration | None:
    """A self-calibration as stored with the index."""
    if not raw:
        return None
    try:
        values: dict[str, Any] = json.loads(raw)
        values["entries"] = tuple(values.get("entries", ()))
        stored = Calibration(**values)
    except (ValueError, TypeError) as error:
        log.warning("Ignoring the self-calibration stored with the index (%s)", error)
        return None
    if stored.method != SELF_METHOD:
        log.info("The self-calibration stored with the index was made by an older Tanya; calibrating again")
        return None
    return stored


def _fold(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % FOLDS


@dataclass
class _Evidence:
    rows: list[dict[str, float]] = field(default_factory=list)
    labels: list[bool] = field(default_factory=list)
    positives: int = 0  # questions the knowledge base answers

    def add(self, retriever: HybridRetriever, text: str, right_unit: str | None) -> None:
        candidates = retriever.retrieve(text)
        if not candidates:
            return
        self.rows.append(features(candidates, len(retriever.normalizer.terms(text))))
        self.labels.append(right_unit is not None and candidates[0].unit == right_unit)
        self.positives += right_unit is not None


def self_calibrate(retriever: HybridRetriever, model: str, answer_confidence: float) -> Calibration:
    """Fit the confidence model on questions made from the knowledge base itself, and answer from
    `answer_confidence` on it.

    - each phrasing (question or alternate), asked of a retriever without the fold of phrasings it is in: the
      top answer is right when it is the phrasing's own entry;
    - each entry's question, asked of a retriever without the fold of entries it is in: no answer is right
      (an in-domain question the knowledge base does not cover);
    - shipped off-topic questions: no answer is right.

    Why a fixed confidence and not a threshold picked for a precision on these questions: held-out phrasings are
    much harder than customers' questions where an entry has one or two phrasings (holding one out leaves one or
    none), and easier when the model was tuned on them, so one precision target gave thresholds from 0.31 to 0.62
    and answered 5% to 77% of real questions on four knowledge bases; the fitted confidence itself carried over
    (evals/README.md, 2026-12-03).
    """
    records = retriever.records
    asking = [r for r in records if r.metadata.get("role") in ASKING_ROLES]
    units: dict[str, list[str]] = {}
    questions: dict[str, str] = {}
    for record in records:
        unit = str(record.metadata.get("unit", record.id))
        units.setdefault(unit, []).append(record.id)
        if record.metadata.get("role") == "question":
            questions[unit] = record.text
    evidence = _Evidence()
    for fold in range(FOLDS):
        held = [r for r in asking if _fold(r.id) == fold]
        blind = retriever.without({r.id for r in held})
        for record in held:
            evidence.add(blind, record.text, str(record.metadata.get("unit", record.id)))
        absent = [u for u in questions if _fold(u) == fold]
        blind = retriever.without({rid for u in absent for rid in units[u]})
        for unit in absent:
            evidence.add(blind, questions[unit], None)
    for text in off_topic_questions():
        evidence.add(retriever, text, None)
    if evidence.positives == 0 or all(evidence.labels) or not any(evidence.labels):
        log.warning(
            "Too few phrasings to calibrate on (%d questions): answering only at confidence %.2f until the knowledge "
            "base has entries with alternates",
            len(evidence.rows),
            UNCALIBRATED_THRESHOLD,
        )
        weights, threshold, measured = dict(DEFAULT_WEIGHTS), UNCALIBRATED_THRESHOLD, dict[str, float]()
    else:
        # Rounded: the same content calibrates to the same stored values (the fit's last digits vary with the
        # order Chroma returns ties in).
        weights = {name: round(value, 6) for name, value in fit_weights(evidence.rows, evidence.labels).items()}
        threshold = answer_confidence
        measured = _measure(ConfidenceModel(weights), evidence, threshold)
    measured["questions"] = float(len(evidence.rows))
    return Calibration(
        threshold,
        weights,
        Origin.SELF,
        model=model,
        content=retriever.content_digest,
        measured=measured,
        method=SELF_METHOD,
    )


def _measure(model: ConfidenceModel, evidence: _Evidence, threshold: float) -> dict[str, float]:
    """Precision and coverage at `threshold` on the held-out questions (for the log; customers' questions do
    better on a sparse knowledge base)."""
    weights = np.array([model.weights[name] for name in FEATURES])
    x = np.array([[row[name] for name in FEATURES] for row in evidence.rows])
    confidence = 1.0 / (1.0 + np.exp(-np.clip(model.weights["bias"] + x @ weights, -30, 30)))
    answered, right = confidence >= threshold, np.array(evidence.labels)
    precision = float((answered & right).sum() / answered.sum()) if answered.any() else float("nan")
    return {
        "precision": round(precision, 4),
        "coverage": round(float((answered & right).sum()) / evidence.positives, 4),
    }
