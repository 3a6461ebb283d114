"""The rules every customer message meets in the core: cleaned, cut to a limit, history included."""

from __future__ import annotations

import pytest

from bot.core.message_bounds import bound_question, bound_text, clean_text
from bot.core.messages import Question, Turn


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("cek pulsa \ud800", "cek pulsa "),  # a lone surrogate: valid JSON, not valid text
        ("cek\x00 pulsa\x07", "cek pulsa"),
        ("baris satu\u2028baris dua\x85tiga\x0cempat\r\nlima", "baris satu\nbaris dua\ntiga\nempat\nlima"),
        ("nomor \u202e0987\u202c saya", "nomor 0987 saya"),  # a right-to-left override would show digits reversed
        ("tab\tdan\nbaris", "tab\tdan\nbaris"),
        ("kuota 😀👍🏽 habis, 👨‍👩‍👧 semua", "kuota 😀👍🏽 habis, 👨‍👩‍👧 semua"),  # emoji, skin tones and joiners stay
    ],
)
def test_cleaning_removes_what_is_not_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_short_messages_are_kept_whole() -> None:
    bounded = bound_text("  cara cek pulsa  ", limit=100)
    assert bounded.text == "cara cek pulsa" and not bounded.cut


def test_long_messages_are_cut_at_a_word_and_say_so() -> None:
    bounded = bound_text("kuota " * 100, limit=100)
    assert bounded.cut and len(bounded.text) <= 100
    assert bounded.text.endswith("kuota")  # not half a word


def test_a_huge_message_costs_no_more_than_the_limit() -> None:
    bounded = bound_text("a" * 5_000_000 + " cek pulsa", limit=2000)
    assert bounded.cut and len(bounded.text) == 2000


def test_the_question_and_its_history_are_bounded() -> None:
    question = Question("x" * 300, "u1", "web", (Turn("customer", "y" * 500 + "\ud800"), Turn("bot", "halo")))
    bounded, cut = bound_question(question, limit=100)
    assert cut and len(bounded.text) == 100
    assert [len(t.text) for t in bounded.history] == [100, 4]
    assert (bounded.user, bounded.channel) == ("u1", "web")


def test_a_question_within_the_rules_is_returned_as_it_is() -> None:
    question = Question("cara cek pulsa", history=(Turn("bot", "Halo!"),))
    assert bound_question(question) == (question, False)
