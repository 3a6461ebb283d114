"""Short answers for SMS: at most 160 characters, cut at a sentence or a word, never mid-word."""

from __future__ import annotations

from bot.core.sms_answer import SMS_LIMIT, shorten


def test_short_text_is_kept() -> None:
    assert shorten("Tekan *123*1# untuk cek pulsa.") == "Tekan *123*1# untuk cek pulsa."


def test_long_text_keeps_whole_sentences() -> None:
    text = (
        "Tekan *123*1# untuk cek pulsa dan masa aktif. " * 3
        + "Kalimat terakhir yang panjang sekali sampai lewat batas."
    )
    short = shorten(text)
    assert len(short) <= SMS_LIMIT and short.endswith(".")
    assert text.startswith(short)


def test_one_long_sentence_is_cut_at_a_word() -> None:
    text = "kata " * 60
    short = shorten(text)
    assert len(short) <= SMS_LIMIT and short.endswith("…")
    assert short[:-1].split() == ["kata"] * len(short[:-1].split())
