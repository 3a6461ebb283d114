"""Phone numbers and NIKs are masked wherever text is logged or stored; secrets never reach a log line."""

from __future__ import annotations

import logging

import pytest

from bot.masking import MaskingFormatter, contains_personal_number, mask_personal_data


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
