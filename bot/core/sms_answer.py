"""Short answers for officers who forward them by SMS: at most 160 characters, cut at a sentence or word."""

from __future__ import annotations

import re

SMS_LIMIT = 160


def shorten(text: str, limit: int = SMS_LIMIT) -> str:
    """The longest run of whole sentences within `limit`; else whole words ending in an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    kept = ""
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        candidate = f"{kept} {sentence}".strip()
        if len(candidate) > limit:
            break
        kept = candidate
    if kept:
        return kept
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"
