"""Hostile Markdown and how a page reads it."""

from __future__ import annotations

import re

HOSTILE = (
    "[click](https://evil.example) <https://evil.example> <img src=https://evil.example/x.png> "
    "![x](https://evil.example/p.png) <script>alert(1)</script> www.evil.example a@evil.example tekan *123#"
)


def as_read(markdown: str) -> str:
    """What a reader sees of escaped text: each escaped character as itself."""
    return _ESCAPED.sub(r"\1", markdown)


def assert_inert(markdown: str) -> None:
    """No link, autolink, bare URL, e-mail link, image or tag left live in `markdown`."""
    live = live_syntax(markdown)
    for syntax in ("](", "[", "<", "://", "www.", "@", "$$"):
        assert syntax not in live, f"{syntax!r} is live in {markdown!r}"


_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def live_syntax(markdown: str) -> str:
    """What Markdown would act on: `markdown` without its backslash-escaped characters."""
    return _ESCAPED.sub("", markdown)
