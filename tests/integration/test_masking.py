"""Phone numbers and NIKs are masked wherever text is logged or stored; secrets never reach a log line."""

from __future__ import annotations

import io
import logging
import traceback
from pathlib import Path
from types import SimpleNamespace

import pytest
from support.workspace import make_settings

from bot.core.masking import (
    Masker,
    MaskingFormatter,
    MaskingStream,
    contains_personal_number,
    mask_personal_data,
    secrets_of,
)


@pytest.mark.parametrize(
    "text",
    [
        "nomor saya 081234567890 hilang",
        "call me on +62 812-3456-7890 please",
        "6281234567890 kenapa diblokir",
        "telp 0812 3456 789",
        "no 0857.1234.5678",
    ],
)
def test_phone_numbers_are_masked(text: str) -> None:
    masked = mask_personal_data(text)
    digits = "".join(c for c in masked if c.isdigit())
    assert "[PHONE ****" in masked
    assert len(digits) <= 2  # only the last two digits survive


def test_nik_is_masked_and_not_read_as_a_phone_number() -> None:
    masked = mask_personal_data("NIK saya 3174012345678901 sudah dipakai")
    assert masked == "NIK saya [NIK ****01] sudah dipakai"


def test_ordinary_numbers_are_kept() -> None:
    text = "paket 10GB harga Rp50.000 berlaku 30 hari, tekan *123#"
    assert mask_personal_data(text) == text
    assert not contains_personal_number(text)


def test_formatter_masks_personal_data_secrets_and_tracebacks() -> None:
    formatter = MaskingFormatter("%(message)s", secrets=("123456:SECRET-TOKEN",))
    try:
        raise ValueError("failed for 081234567890 via https://api/bot123456:SECRET-TOKEN/sendMessage")
    except ValueError:
        import sys

        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "user %s", ("081298765432",), sys.exc_info())
    output = formatter.format(record)
    assert "SECRET-TOKEN" not in output
    assert "081234567890" not in output and "081298765432" not in output
    assert "[SECRET]" in output and "ValueError" in output


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("NIK 3273-1234-5678-9123 ya", "NIK [NIK ****23] ya"),
        ("NIK 3273.1234.5678.9123 ya", "NIK [NIK ****23] ya"),
        ("NIK 3171 0123 4567 8901 ya", "NIK [NIK ****01] ya"),
        ("NIK 32.73.01.120590.0001 ya", "NIK [NIK ****01] ya"),
        ("hp (0812) 3456-7890 ya", "hp [PHONE ****90] ya"),
        ("hp +62 (812) 3456 7890 ya", "hp [PHONE ****90] ya"),
        ("hp +62 (0)812 3456 7890 ya", "hp [PHONE ****90] ya"),
        ("hp 812-3456-7890 ya", "hp [PHONE ****90] ya"),
        ("hp +62-812-3456-7890 ya", "hp [PHONE ****90] ya"),
        ("hp 0812 3456 7890 ya", "hp [PHONE ****90] ya"),
        ("hp 0812 - 3456 - 7890 ya", "hp [PHONE ****90] ya"),
        ("hp 62812345678 ya", "hp [PHONE ****78] ya"),
        ("hp +6281234567890 ya", "hp [PHONE ****90] ya"),
        ("hp 08123456789 ya", "hp [PHONE ****89] ya"),
        ("kantor (021) 2955 1234 ya", "kantor [PHONE ****34] ya"),
        ("hp no.081234567890", "hp no.[PHONE ****90]"),
        ("transfer pulsa *858*081234567890*10000#", "transfer pulsa *858*[PHONE ****90]*10000#"),
    ],
)
def test_separated_and_bracketed_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked
    assert contains_personal_number(text)
    assert mask_personal_data(masked) == masked  # masking twice changes nothing (the formatter and the stream do)


@pytest.mark.parametrize(
    "text",
    [
        "harga Rp 50.000",
        "harga Rp1.500.000",
        "hadiah Rp 850.000.000",
        "paket 50rb",
        "berlaku sampai 2026-12-01",
        "periode 01.12.2026 31.12.2026",
        "pukul 08:30 atau 08.00 - 17.00 WIB",
        "tekan *123*1# atau *888#",
        "kuota 10 GB",
        "tiket #12",
        "SMS ke 3636",
        "hubungi 188",
        "kode 812 345",
    ],
)
def test_ordinary_numbers_are_kept_in_every_format(text: str) -> None:
    assert mask_personal_data(text) == text
    assert not contains_personal_number(text)


def stream_over(secrets: tuple[str, ...] = ()) -> tuple[MaskingStream, io.StringIO]:
    target = io.StringIO()
    return MaskingStream(target, Masker(secrets)), target


def test_stream_masks_a_number_written_in_pieces() -> None:
    stream, target = stream_over()
    for piece in ("nomor (08", "12) 34", "56-78", "90 ok"):
        stream.write(piece)
    assert target.getvalue() == ""  # held back until the line ends
    stream.write(" bye\nnext 3273-")
    assert target.getvalue() == "nomor [PHONE ****90] ok bye\n"
    stream.write("1234-5678-9123")
    stream.flush()  # the rest is written, masked, without waiting for a newline
    assert target.getvalue() == "nomor [PHONE ****90] ok bye\nnext [NIK ****23]"


def test_stream_masks_a_printed_traceback_and_secrets() -> None:
    stream, target = stream_over(secrets=("s3cr3t-webhook",))
    try:
        raise RuntimeError("NIK 3273-1234-5678-9123, hp (0812) 3456-7890, header s3cr3t-webhook")
    except RuntimeError:
        traceback.print_exc(file=stream)  # as Gradio prints an event handler's failure
    printed = target.getvalue()
    assert "Traceback (most recent call last)" in printed and "RuntimeError: NIK [NIK ****23]" in printed
    assert "[PHONE ****90]" in printed and "[SECRET]" in printed
    assert "3456-7890" not in printed and "9123" not in printed and "s3cr3t" not in printed


def test_stream_passes_progress_bars_on_and_reports_what_it_wraps() -> None:
    stream, target = stream_over()
    assert stream.write("\rEmbedding 1/2") == len("\rEmbedding 1/2")
    stream.write("\rEmbedding 2/2")
    assert target.getvalue() == "\rEmbedding 1/2\r"  # a carriage return ends a line too
    assert stream.writable() and not stream.isatty() and stream.getvalue() == target.getvalue()


def test_secrets_of_collects_every_secret_field_and_the_database_password(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        telegram_bot_token="123456:BOT-TOKEN",
        telegram_webhook_secret="webhook-secret",
        web_state_secret="state-secret",
        database_url="postgresql+psycopg://tanya:p%40ss%3Aword@db.internal:5432/tanya",
    )
    assert set(secrets_of(settings)) == {
        "123456:BOT-TOKEN",
        "webhook-secret",
        "state-secret",
        "p%40ss%3Aword",
        "p@ss:word",
    }
    assert secrets_of(make_settings(tmp_path, web_state_secret=None, telegram_webhook_secret=None)) == ()


def test_telegram_names_are_masked_where_they_enter() -> None:
    from telegram import User

    from bot.telegram.application import _customer_name
    from bot.telegram.officers_group import officer_name

    user = User(id=812345678, first_name="Budi", last_name="0812-3456-7890", is_bot=False)
    assert officer_name(user) == "Budi [PHONE ****90] (tg:812345678)"  # the Telegram id stays whole
    assert _customer_name(SimpleNamespace(effective_user=user)) == "Budi [PHONE ****90]"  # type: ignore[arg-type]
