"""Which browser origins may call the web app: its own, and the ones the settings name."""

from __future__ import annotations

import pytest

from ui.request_guard import is_allowed_origin


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://127.0.0.1:7860", "127.0.0.1:7860"),
        ("https://tanya.example.co.id", "tanya.example.co.id"),
        ("https://tanya.example.co.id", "tanya.example.co.id:443"),
        ("http://Tanya.Example.co.id", "tanya.example.co.id:80"),
    ],
)
def test_the_sites_own_origin_is_allowed(origin: str, host: str) -> None:
    assert is_allowed_origin(origin, host, ())


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("https://evil.example", "tanya.example.co.id"),
        ("https://evil.example", "127.0.0.1:7860"),
        ("http://127.0.0.1:7861", "127.0.0.1:7860"),  # another port is another site
        ("https://tanya.example.co.id", "tanya.example.co.id:8443"),
        ("https://tanya.example.co.id.evil.example", "tanya.example.co.id"),
        ("null", "127.0.0.1:7860"),  # a sandboxed frame or a local file
        ("file://", "127.0.0.1:7860"),
        ("http://[::1", "127.0.0.1:7860"),  # unreadable
    ],
)
def test_other_origins_are_not(origin: str, host: str) -> None:
    assert not is_allowed_origin(origin, host, ())


def test_origins_named_in_the_settings_are_allowed() -> None:
    allowed = ["https://www.operator.co.id/"]
    assert is_allowed_origin("https://www.operator.co.id", "tanya.example.co.id", allowed)
    assert not is_allowed_origin("https://operator.co.id", "tanya.example.co.id", allowed)
