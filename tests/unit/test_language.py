"""Language detection on short, informal and code-mixed customer messages."""

from __future__ import annotations

import pytest

from bot.core.language import detect_language


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("how do I check my credit balance", "en"),
        ("my phone was stolen, please block my number", "en"),
        ("why is my bill so high this month?", "en"),
        ("gmn cara cek pulsa sy", "id"),
        ("hp ku ilang td malem", "id"),
        ("Bagaimana cara mengaktifkan roaming?", "id"),
        ("mau check sisa data, ada kode USSD nya ga?", "id"),
        ("", "id"),
    ],
)
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang
