"""Answer quality on the held-back knowledge base (never tuned on) and on the demo one (tuned and calibrated on),
with the production engine, the real model and the calibration committed in kb/calibration.json. The issue's whole
bar is asserted on both, and the demo set must score higher than the held-back one, so CI fails when any part of
it regresses."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import REPO, make_settings

from bot.settings import DEFAULT_CALIBRATION_FILE
from evals.report import SetResult
from evals.runner import BAR_HIT_AT_1, BAR_WRONG_ANSWERS, DEMO, HELDOUT, EvalTarget, evaluate_target

pytestmark = pytest.mark.e2e

# Measured on 2026-11-30 with all-MiniLM-L6-v2 fine-tuned on the demo kb/'s phrasings (twelve alternates an entry),
# + BM25 with indoNLP, Sastrawi and the glossary, + answer, entry-centre and document-detail evidence: hit@1 90.3%
# (140/155) held-back, 90.8% (236/260) demo; wrong answers 1.0% / 2.9%. (Held-back earlier: 78.1% with the model
# as shipped, 85.2% before the answer and entry-centre evidence, 89.0% with six alternates an entry.)


def evaluate(target: EvalTarget, folder: Path) -> SetResult:
    settings = make_settings(folder, calibration_file=REPO / DEFAULT_CALIBRATION_FILE)
    result, engine = evaluate_target(settings, target, folder, ablate=False, progress=False)
    engine.close()
    return result


@pytest.fixture(scope="module")
def heldout(tmp_path_factory: pytest.TempPathFactory) -> SetResult:
    return evaluate(HELDOUT, tmp_path_factory.mktemp("quality-heldout"))


@pytest.fixture(scope="module")
def demo(demo_index_template: Path, tmp_path_factory: pytest.TempPathFactory) -> SetResult:
    folder = tmp_path_factory.mktemp("quality-demo")
    # The session's demo index already holds this kb/: the evaluation's sync then finds nothing to embed.
    shutil.copytree(demo_index_template / "index", folder / f"index-{DEMO.name}")
    return evaluate(DEMO, folder)


@pytest.fixture(params=["heldout", "demo"])
def labelled_set(request: pytest.FixtureRequest) -> SetResult:
    result: SetResult = request.getfixturevalue(request.param)
    return result


def test_wrong_answers_stay_within_the_bar(labelled_set: SetResult) -> None:
    assert (labelled_set.metrics.wrong_answer_rate or 0.0) <= BAR_WRONG_ANSWERS


def test_no_privacy_leak(labelled_set: SetResult) -> None:
    assert labelled_set.metrics.privacy_leaks == 0


def test_every_must_handoff_question_is_handed_off(labelled_set: SetResult) -> None:
    assert labelled_set.metrics.handoff_recall == 1.0


def test_retrieval_reaches_the_bar(labelled_set: SetResult) -> None:
    assert (labelled_set.metrics.hit_at_1 or 0.0) >= BAR_HIT_AT_1


def test_the_demo_set_the_bot_was_tuned_on_scores_higher_than_the_held_back_one(
    demo: SetResult, heldout: SetResult
) -> None:
    assert (demo.metrics.hit_at_1 or 0.0) > (heldout.metrics.hit_at_1 or 0.0)
