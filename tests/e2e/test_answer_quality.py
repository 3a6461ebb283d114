"""Answer quality with the production engine and the real model, as a new user would get it: the demo knowledge
base with its committed labelled calibration (kb/calibration.json), the held-back one and the sparse operator
knowledge bases in evals/operators/ with the self-calibration Tanya makes for them (no labelled questions, no
glossary needed). Each set's whole bar is asserted, criterion by criterion, so CI fails when any part regresses."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.workspace import make_settings

from evals.evaluation import Metrics
from evals.report import SetResult
from evals.runner import DEMO, HELDOUT, EvalTarget, check_bar, evaluate_target, operator_targets

pytestmark = pytest.mark.e2e

OPERATORS = {target.name: target for target in operator_targets()}
# Only to list a bar's criteria when the tests are collected.
_EMPTY = SetResult("", "", 0.0, Metrics(0, None, None, None, None, None, None, None, 0, None), [], [], [])
# Figures of each run: evals/README.md (measured with `tanya eval`).


def evaluate(target: EvalTarget, folder: Path) -> SetResult:
    result, engine = evaluate_target(make_settings(folder), target, folder, ablate=False, progress=False)
    engine.close()
    return result


@pytest.fixture(scope="module")
def results(demo_index_template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, SetResult]:
    folder = tmp_path_factory.mktemp("quality")
    # The session's demo index already holds this kb/: the evaluation's sync then finds nothing to embed.
    shutil.copytree(demo_index_template / "index", folder / f"index-{DEMO.name}")
    return {target.name: evaluate(target, folder) for target in (DEMO, HELDOUT, *OPERATORS.values())}


def test_the_operator_sets_are_there() -> None:
    assert len(OPERATORS) >= 2


# The parts of the operator bar not met yet (evals/README.md, 2026-12-02), with the sets that miss them: strict,
# so meeting one fails the test until its mark is removed. Retrieval on a sparse knowledge base is the open part of
# issue 15; the privacy request missed is the intent classifier's (issue 16); in-domain declines are the
# vocabulary check's.
OPERATOR_MISSES = {
    "hit@1": ("sparse retrieval: 71.2% / 63.2% in scope (tanya eval --sets operators)", {"cakrawala", "lintasnet"}),
    "zero privacy leaks": ("1 request for another person's data read as a question (issue 16)", {"lintasnet"}),
    "no in-domain question declined": ("1 / 8 in-domain questions declined as off-topic", {"cakrawala", "lintasnet"}),
}
# Regression floor for the operator sets' retrieval until the bar is met.
OPERATOR_HIT_AT_1_FLOOR = 0.60


def _bar(name: str) -> str:
    return OPERATORS[name].bar if name in OPERATORS else "team"


def _criteria(name: str) -> list[object]:
    bar = _bar(name)
    probe = check_bar(_EMPTY, bar)
    params = []
    for position, (criterion, _, _) in enumerate(probe):
        miss = next(
            (why for key, (why, names) in OPERATOR_MISSES.items() if criterion.startswith(key) and name in names), None
        )
        marks = [pytest.mark.xfail(strict=True, reason=miss)] if bar == "operator" and miss else []
        params.append(pytest.param(name, position, id=f"{name}-{criterion}", marks=marks))
    return params


@pytest.mark.parametrize(("name", "position"), [p for n in (DEMO.name, HELDOUT.name, *OPERATORS) for p in _criteria(n)])
def test_each_set_meets_its_bar(results: dict[str, SetResult], name: str, position: int) -> None:
    criterion, passed, measured = check_bar(results[name], _bar(name))[position]
    assert passed, f"{name}: {criterion}: {measured} ({results[name].calibration})"


@pytest.mark.parametrize("name", list(OPERATORS))
def test_operator_retrieval_stays_above_its_floor(results: dict[str, SetResult], name: str) -> None:
    assert (results[name].metrics.hit_at_1 or 0.0) >= OPERATOR_HIT_AT_1_FLOOR


def test_the_demo_and_held_back_sets_answer_with_the_calibration_a_new_user_gets(
    results: dict[str, SetResult],
) -> None:
    assert results[DEMO.name].calibration.startswith("labelled")
    for name in (HELDOUT.name, *OPERATORS):
        assert results[name].calibration.startswith("self"), name
