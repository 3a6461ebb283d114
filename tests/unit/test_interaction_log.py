"""The interaction log stores questions masked, customers pseudonymised, and finds what editors should review."""

from __future__ import annotations

from pathlib import Path

from bot.core.messages import Outcome, Question, Reply, Source
from bot.storage.database import Database
from bot.storage.interaction_log import InteractionLog


def log_in(tmp_path: Path) -> InteractionLog:
    return InteractionLog(Database(f"sqlite:///{tmp_path / 'log.db'}"))


def test_questions_are_stored_masked_and_customers_pseudonymised(tmp_path: Path) -> None:
    log = log_in(tmp_path)
    reply = Reply(Outcome.ANSWER, "…", "id", 0.9, source=Source("faq", "cek-pulsa", "Cek pulsa"))
    log.record(Question("nomor saya 081234567890, NIK 3174012345678901", user="telegram:42", channel="telegram"), reply)
    stored = log.interactions()[0]
    assert "081234567890" not in stored.question and "3174012345678901" not in stored.question
    assert stored.source == "cek-pulsa" and stored.outcome == "answer"
    assert "42" not in stored.channel


def test_unanswered_lists_handoffs_refusals_off_topic_weak_answers_and_not_helpful(tmp_path: Path) -> None:
    log = log_in(tmp_path)
    confident = Reply(Outcome.ANSWER, "…", "id", 0.95, source=Source("faq", "a", "A"))
    weak = Reply(Outcome.ANSWER, "…", "id", 0.6, source=Source("faq", "b", "B"))
    handoff = Reply(Outcome.HANDOFF, "…", "id", 0.3, reason="low_confidence")
    angry = Reply(Outcome.HANDOFF, "…", "id", 1.0, reason="angry")
    refused = Reply(Outcome.REFUSE, "…", "id", 1.0, reason="privacy")
    off_topic = Reply(Outcome.DECLINE, "…", "id", 0.1, reason="off_topic")
    greeting = Reply(Outcome.DECLINE, "…", "id", 1.0, reason="greeting")
    ids = {
        name: log.record(Question(name), reply)
        for name, reply in [
            ("confident", confident),
            ("weak", weak),
            ("handoff", handoff),
            ("angry", angry),
            ("disliked", confident),
            ("refused", refused),
            ("off topic", off_topic),
            ("greeting", greeting),
        ]
    }
    log.add_feedback(ids["disliked"], helpful=False)
    log.add_feedback(ids["confident"], helpful=True)
    listed = {"weak", "handoff", "angry", "disliked", "refused", "off topic"}
    assert {i.question for i in log.unanswered(low_confidence=0.8)} == listed
    log.mark_resolved([ids["weak"], ids["refused"]])
    assert {i.question for i in log.unanswered(low_confidence=0.8)} == listed - {"weak", "refused"}
