"""Turning retrieval evidence into a confidence in [0, 1] that the top candidate answers the question.

A logistic model over a few features of the ranking (fused score, dense and lexical evidence, margin over the
runner-up). `tanya eval --calibrate` fits its weights on the demo set and records them with the threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bot.retrieval.retriever import Candidate

FEATURES = ("score", "dense", "lexical", "margin", "short")
# Used until a calibration is recorded: roughly the fused score, stretched, with the margin counting.
DEFAULT_WEIGHTS = {"bias": -4.0, "score": 8.0, "dense": 0.0, "lexical": 0.0, "margin": 6.0, "short": -1.0}


def features(candidates: Sequence[Candidate], query_terms: int = 3) -> dict[str, float]:
    """The evidence about the top candidate that confidence is computed from.

    `short` is 1 for a one-term question, 0 from three terms up: one matching word proves little.
    """
    if not candidates:
        return dict.fromkeys(FEATURES, 0.0)
    top = candidates[0]
    runner_up = candidates[1].score if len(candidates) > 1 else 0.0
    short = max(0.0, min(1.0, (3 - query_terms) / 2))
    return {
        "score": top.score,
        "dense": top.dense,
        "lexical": top.lexical,
        "margin": top.score - runner_up,
        "short": short,
    }


class ConfidenceModel:
    """confidence = sigmoid(bias + sum(weight * feature))."""

    def __init__(self, weights: dict[str, float] | None = None) -> None:
        self.weights = {**DEFAULT_WEIGHTS, **(weights or {})}

    def confidence(self, candidates: Sequence[Candidate], query_terms: int = 3) -> float:
        if not candidates:
            return 0.0
        values = features(candidates, query_terms)
        z = self.weights["bias"] + sum(self.weights[name] * values[name] for name in FEATURES)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def fit_weights(
    rows: list[dict[str, float]], labels: list[bool], l2: float = 0.01, steps: int = 50
) -> dict[str, float]:
    """Logistic regression (Newton's method with a small L2 penalty) of `labels` on the feature rows."""
    x = np.array([[1.0, *(row[name] for name in FEATURES)] for row in rows])
    y = np.array(labels, dtype=float)
    w = np.zeros(x.shape[1])
    penalty = np.eye(x.shape[1]) * l2
    penalty[0, 0] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (p - y) + penalty @ w
        hessian = (x.T * (p * (1 - p))) @ x + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return {"bias": float(w[0]), **{name: float(v) for name, v in zip(FEATURES, w[1:], strict=True)}}
