"""`tanya eval --calibrate` on the demo knowledge base with the real model: the confidences it picks the threshold
from are the ones the bot computes when it answers, and the bot reads what it records."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import make_settings

from bot.engine import AnswerEngine
from bot.messages import Question
from evals.runner import EvalTarget, evaluate_target, record_calibration

# Short questions (one or two terms) count less in the confidence model, so they are where a re-scoring that
# forgot the question's length would go wrong.
QUESTIONS = """question,expected,category
gmn cara cek pulsa sy,cek-pulsa,informal
cara setting apn nusantel,setting-apn,informal
"hp aku ilang td malem, nomernya hrs diblokir gmn",hp-hilang-blokir-nomor,informal
How do I check my credit balance?,cek-pulsa,english
cek pulsa,cek-pulsa,informal
roaming,aktivasi-roaming,informal
ibukota australia apa,decline,offtopic
resep nasi goreng yang enak gimana,decline,offtopic
jadwal kereta ke bandung besok,decline,offtopic
"""


def test_calibration_scores_questions_as_the_bot_does_and_records_it(demo_workspace: Path, tmp_path: Path) -> None:
    questions = tmp_path / "questions.csv"
    questions.write_text(QUESTIONS, encoding="utf-8")
    work = tmp_path / "work"
    shutil.copytree(demo_workspace / "index", work / "index-small")  # already synced: no re-embedding
    settings = make_settings(demo_workspace, calibration_file=tmp_path / "calibration.json")
    target = EvalTarget("small", "a few demo questions", demo_workspace / "kb", questions)
    result, engine = evaluate_target(settings, target, work, ablate=False, progress=False)
    try:
        recorded = record_calibration(settings, engine, result, target_precision=0.5)
    finally:
        engine.close()

    # The bot as it starts next: settings read from the file the calibration wrote.
    bot = AnswerEngine.open(
        make_settings(work, store_dir=work / "index-small", calibration_file=tmp_path / "calibration.json")
    )
    try:
        assert bot.threshold == pytest.approx(recorded.answer_threshold)
        assert bot.settings.confidence_weights == pytest.approx(recorded.confidence_weights)
        scored = [e for e in result.evaluated if e.assessment.rule is None]
        assert any(e.assessment.query_terms < 3 for e in scored)
        for evaluated in scored:
            answered = bot.assess(Question(text=evaluated.item.question))
            assert answered.confidence == pytest.approx(evaluated.assessment.confidence, abs=1e-9)
    finally:
        bot.close()
