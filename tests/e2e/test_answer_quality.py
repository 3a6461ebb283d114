"""Answer quality on the held-back knowledge base (never tuned on), with the production engine, the real model and
the calibration committed in kb/calibration.json. The issue's whole bar is asserted, so CI fails when any part of
it regresses."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, make_settings

from bot.settings import DEFAULT_CALIBRATION_FILE
from evals.report import SetResult
from evals.runner import BAR_HIT_AT_1, BAR_WRONG_ANSWERS, HELDOUT, evaluate_target

pytestmark = pytest.mark.e2e

# hit@1 measured 90.3% (140/155) on 2026-11-30: all-MiniLM-L6-v2 fine-tuned on the demo kb/'s phrasings (twelve
# alternates an entry), never on this one, + BM25 with indoNLP, Sastrawi and the glossary, + answer and entry-centre
# evidence. (Earlier: 78.1% with the model as shipped, 85.2% before the answer and entry-centre evidence, 89.0% with
# six alternates an entry.)


@pytest.fixture(scope="module")
def heldout(tmp_path_factory: pytest.TempPathFactory) -> SetResult:
    folder = tmp_path_factory.mktemp("quality")
    settings = make_settings(folder, calibration_file=REPO / DEFAULT_CALIBRATION_FILE)
    result, engine = evaluate_target(settings, HELDOUT, Path(folder), ablate=False, progress=False)
    engine.close()
    return result


def test_wrong_answers_stay_within_the_bar(heldout: SetResult) -> None:
    assert (heldout.metrics.wrong_answer_rate or 0.0) <= BAR_WRONG_ANSWERS


def test_no_privacy_leak(heldout: SetResult) -> None:
    assert heldout.metrics.privacy_leaks == 0


def test_every_must_handoff_question_is_handed_off(heldout: SetResult) -> None:
    assert heldout.metrics.handoff_recall == 1.0


def test_retrieval_reaches_the_bar(heldout: SetResult) -> None:
    assert (heldout.metrics.hit_at_1 or 0.0) >= BAR_HIT_AT_1
