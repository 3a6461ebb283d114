"""Calibration with the real model: `tanya eval --calibrate` on the demo knowledge base (the confidences it picks
the threshold from are the ones the bot computes, and the bot reads what it records), and the self-calibration a
knowledge base without labelled questions gets (made, kept with the index, refreshed after edits, never replaced
silently by a calibration of another knowledge base or model)."""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import pytest
from support.workspace import build_index, make_settings

from bot.core.messages import Outcome, Question
from bot.core.telecom_vocabulary import off_topic_questions
from bot.engine import AnswerEngine
from bot.retrieval.calibration import INFO_KEY, SELF_METHOD, Origin, read_stored
from bot.retrieval.confidence import DEFAULT_WEIGHTS
from bot.retrieval.embedder import model_identity
from evals.runner import EvalTarget, evaluate_target, record_calibration
from ingest.knowledge_base import load_knowledge_base
from ingest.sync import sync_index
from ingest.tuning import ensure_tuned_model

# These tests answer with, or index with, the demo's tuned model: built first when this machine lacks it.
pytestmark = pytest.mark.usefixtures("tuned_model")

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

    # The bot as it starts next: it reads the file the calibration wrote.
    bot = AnswerEngine.open(
        make_settings(work, store_dir=work / "index-small", calibration_file=tmp_path / "calibration.json")
    )
    try:
        assert bot.calibration.origin == "labelled"
        assert bot.threshold == pytest.approx(recorded.threshold)
        assert bot.calibration.weights == pytest.approx(recorded.weights)
        scored = [e for e in result.evaluated if e.assessment.rule is None]
        assert any(e.assessment.query_terms < 3 for e in scored)
        for evaluated in scored:
            answered = bot.assess(Question(text=evaluated.item.question))
            assert answered.confidence == pytest.approx(evaluated.assessment.confidence, abs=1e-9)
    finally:
        bot.close()


# --- calibration without labelled questions, on a knowledge base with no glossary ------------------------------

SPARSE_FAQ = """faq:
  - id: cek-pulsa
    question: Bagaimana cara mengecek sisa pulsa?
    alternates: [cara cek pulsa, berapa sisa pulsa saya]
    answer: Tekan *321# lalu pilih Info Pulsa.
  - id: cek-kuota
    question: Bagaimana cara mengecek sisa kuota internet?
    alternates: [cara cek kuota data]
    answer: Tekan *321*2# untuk melihat sisa kuota setiap paket.
  - id: beli-paket
    question: Bagaimana cara membeli paket internet?
    alternates: [beli paket data, how to buy a data package]
    answer: Buka aplikasi Kilat dan pilih Beli Paket.
  - id: hp-hilang
    question: Ponsel saya hilang, bagaimana memblokir nomor saya?
    alternates: [hp hilang blokir nomor]
    answer: Hubungi 321 untuk memblokir kartu SIM Anda.
  - id: roaming
    question: Bagaimana cara mengaktifkan roaming internasional?
    alternates: [aktifkan roaming, roaming luar negeri]
    answer: Kirim SMS ROAM ON ke 321 sebelum berangkat.
  - id: apn
    question: Bagaimana pengaturan APN untuk internet?
    alternates: [setting apn]
    answer: Isi APN dengan internet.kilat dan biarkan kolom lain kosong.
  - id: ganti-kartu
    question: Bagaimana cara mengganti kartu SIM yang rusak?
    alternates: [kartu sim rusak, ganti sim card]
    answer: Datang ke gerai Kilat dengan KTP dan kartu lama.
  - id: tagihan
    question: Kapan jatuh tempo tagihan pascabayar?
    alternates: [batas bayar tagihan]
    answer: Tagihan jatuh tempo setiap tanggal 20.
"""


SPARSE_IDS = ["cek-pulsa", "cek-kuota", "beli-paket", "hp-hilang", "roaming", "apn", "ganti-kartu", "tagihan"]


def sparse_engine(folder: Path, **overrides: object) -> AnswerEngine:
    (folder / "kb" / "faq").mkdir(parents=True)
    (folder / "kb" / "faq" / "kilat.yaml").write_text(SPARSE_FAQ, encoding="utf-8")
    (folder / "kb" / "glossary.yaml").write_text("synonyms: {}\n", encoding="utf-8")
    settings = make_settings(folder, **overrides)
    if settings.tuned_kb_dir == settings.kb_dir.resolve():  # a model of its own: tuned first (loading never trains)
        ensure_tuned_model(settings)
    build_index(settings, folder / "kb")
    return AnswerEngine.open(settings, writable=True)


def test_a_new_knowledge_base_calibrates_itself_and_keeps_it_with_the_index(tmp_path: Path) -> None:
    engine = sparse_engine(tmp_path)
    try:
        made = engine.calibration
        assert made.origin == Origin.SELF
        assert made.model == model_identity(engine.settings)
        assert made.content == engine.retriever.content_digest
        assert made.measured["questions"] > len(off_topic_questions())  # phrasings, held-out entries, off-topic
        assert read_stored(engine.index.info()[INFO_KEY]) == made
    finally:
        engine.close()
    again = AnswerEngine.open(make_settings(tmp_path))  # a reader: uses what is stored, makes nothing
    try:
        assert again.calibration == made
    finally:
        again.close()


def test_a_self_calibration_answers_from_the_set_confidence_with_weights_fitted_on_the_knowledge_base(
    tmp_path: Path,
) -> None:
    engine = sparse_engine(tmp_path, self_calibration_confidence=0.5)
    try:
        made = engine.calibration
        assert (made.threshold, made.method) == (0.5, SELF_METHOD)
        assert made.weights != DEFAULT_WEIGHTS
        assert 0.0 <= made.measured["coverage"] <= 1.0
    finally:
        engine.close()


def test_a_model_tuned_on_the_knowledge_bases_own_phrasings_answers_from_the_higher_confidence(
    tmp_path: Path,
) -> None:
    tuned_here = {
        "embedding_model": f"tuned:{tmp_path / 'kb'}",
        "model_cache_dir": tmp_path / "models",
        "tune_on": "kb",
    }
    engine = sparse_engine(tmp_path, tune_epochs=1, **tuned_here)
    try:
        assert engine.settings.model_learnt_kb
        assert engine.threshold == engine.settings.answers.self_calibration_confidence_tuned
    finally:
        engine.close()
    assert not make_settings(tmp_path).model_learnt_kb  # the demo's model, on this knowledge base
    corpus_only = {**tuned_here, "tune_on": "corpus"}
    assert not make_settings(tmp_path, **corpus_only).model_learnt_kb  # its held-out phrasings are unseen
    assert not make_settings(tmp_path, embedding_model="bundled:all-MiniLM-L6-v2").model_learnt_kb


def test_a_self_calibration_an_older_tanya_stored_is_made_again(tmp_path: Path) -> None:
    engine = sparse_engine(tmp_path)
    made = engine.calibration
    older = {**json.loads(made.to_json()), "method": "", "threshold": 0.9}
    engine.index.set_info(**{INFO_KEY: json.dumps(older)})
    engine.close()
    assert read_stored(json.dumps(older)) is None
    again = AnswerEngine.open(make_settings(tmp_path), writable=True)
    try:
        again.wait_for_calibration()
        assert (again.calibration.method, again.threshold) == (SELF_METHOD, made.threshold)
    finally:
        again.close()


def test_an_edit_is_calibrated_again_in_the_background(tmp_path: Path) -> None:
    engine = sparse_engine(tmp_path)
    try:
        before = engine.calibration
        extra = "  - id: puk\n    question: Apa itu kode PUK?\n    alternates: [kode puk]\n    answer: Kode PUK ada di kemasan kartu.\n"
        path = tmp_path / "kb" / "faq" / "kilat.yaml"
        path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
        sync_index(engine.index, load_knowledge_base([path], tmp_path / "kb"), show_progress=False)
        engine.refresh()
        assert engine.calibration == before  # answering goes on with the old one meanwhile
        deadline = time.monotonic() + 60
        while engine.calibration.content != engine.retriever.content_digest and time.monotonic() < deadline:
            time.sleep(0.2)
        assert engine.calibration.content == engine.retriever.content_digest
        assert read_stored(engine.index.info()[INFO_KEY]) == engine.calibration
    finally:
        engine.close()


def test_a_labelled_calibration_of_another_knowledge_base_is_not_used_silently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = sparse_engine(tmp_path)
    engine.close()
    labelled = labelled_calibration(model_identity(make_settings(tmp_path)), ["some", "other", "operator", "entries"])
    assert origin_with(tmp_path, labelled, caplog) == Origin.SELF
    assert "another knowledge base" in caplog.text
    labelled["entries"] = SPARSE_IDS
    labelled["model"] = "bundled:other-model"
    assert origin_with(tmp_path, labelled, caplog) == Origin.SELF
    assert "measured with the model bundled:other-model" in caplog.text


def labelled_calibration(model: str, entries: list[str]) -> dict[str, object]:
    """A calibration.json as `tanya eval --calibrate` writes it (threshold 0.42)."""
    return {
        "settings": {"answer_threshold": 0.42, "confidence_weights": {"bias": -1.0}},
        "model": model,
        "entries": entries,
    }


def origin_with(folder: Path, labelled: dict[str, object], caplog: pytest.LogCaptureFixture) -> str:
    """Where the calibration of an engine opened with `labelled` in its kb folder comes from."""
    (folder / "kb" / "calibration.json").write_text(json.dumps(labelled), encoding="utf-8")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bot.retrieval.calibration"):
        engine = AnswerEngine.open(make_settings(folder))
    engine.close()
    return engine.calibration.origin


def test_a_labelled_calibration_of_this_knowledge_base_wins_and_a_hand_set_threshold_wins_over_it(
    tmp_path: Path,
) -> None:
    engine = sparse_engine(tmp_path)
    engine.close()
    labelled = labelled_calibration(model_identity(make_settings(tmp_path)), SPARSE_IDS)
    (tmp_path / "kb" / "calibration.json").write_text(json.dumps(labelled), encoding="utf-8")
    engine = AnswerEngine.open(make_settings(tmp_path))
    try:
        assert (engine.calibration.origin, engine.threshold) == (Origin.LABELLED, 0.42)
    finally:
        engine.close()
    engine = AnswerEngine.open(make_settings(tmp_path, answer_threshold=0.9))
    try:
        assert (engine.calibration.origin, engine.threshold) == (Origin.SETTINGS, 0.9)
    finally:
        engine.close()


def test_without_a_glossary_routine_telecom_questions_are_not_declined_and_others_are(tmp_path: Path) -> None:
    engine = sparse_engine(tmp_path)
    try:
        for text in (
            "gmn cara ngecek pulsa",
            "kuota gw abis, how to beli paket",
            "my phone was stolen, block my number",
        ):
            reply = engine.answer(Question(text=text))
            assert reply.outcome is not Outcome.DECLINE, text
        for text in ("resep rendang padang yang empuk", "who won the football world cup"):
            assert engine.answer(Question(text=text)).outcome is Outcome.DECLINE, text
    finally:
        engine.close()


def test_a_labelled_calibration_of_the_same_recipe_in_another_clone_is_used_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = sparse_engine(tmp_path)
    engine.close()
    # Tuned from another folder, with other weights.
    labelled = labelled_calibration("tuned:tuned-kb-0123456789#ffffffffffffffff", SPARSE_IDS)
    assert model_identity(make_settings(tmp_path)).startswith("tuned:tuned-kb-")
    assert origin_with(tmp_path, labelled, caplog) == Origin.LABELLED
    assert "measured with other weights" in caplog.text


def test_a_labelled_calibration_of_the_same_weights_in_another_folder_is_used_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = sparse_engine(tmp_path)
    engine.close()
    fingerprint = model_identity(make_settings(tmp_path)).partition("#")[2]
    labelled = labelled_calibration(f"tuned:tuned-kb-0123456789#{fingerprint}", SPARSE_IDS)
    assert origin_with(tmp_path, labelled, caplog) == Origin.LABELLED
    assert "other weights" not in caplog.text and "Ignoring" not in caplog.text
