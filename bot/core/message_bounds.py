"""What a customer message may hold once it reaches the core: the same rules for every channel.

A message is cleaned (lone surrogates, control and bidirectional-override characters removed, every kind of line
break made a plain newline) and cut to a length limit. The web API accepts any JSON string, so a lone surrogate or a
5 MB message reaches us; neither may reach the embedder, the database or an officer's screen as it came.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from bot.core.messages import Question, Turn

# Telegram allows 4,096 characters a message; a question is rarely longer than a few hundred.
DEFAULT_LIMIT = 2000

_LINE_BREAKS = re.compile(r"\r\n|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# Bidirectional overrides and isolates can make text read differently on an officer's screen than it was written.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_KEPT_CONTROLS = frozenset("\n\t")


@dataclass(frozen=True)
class BoundedText:
    """A message after the rules: its text, and whether the limit cut it."""

    text: str
    cut: bool = False


def clean_text(text: str) -> str:
    """`text` without lone surrogates, control characters (tab and newline kept) or bidirectional controls."""
    text = _LINE_BREAKS.sub("\n", text)
    return "".join(ch for ch in text if _kept(ch))


def _kept(ch: str) -> bool:
    if ch in _KEPT_CONTROLS:
        return True
    if ch in _BIDI_CONTROLS:
        return False
    category = unicodedata.category(ch)
    # Cs: a surrogate code point on its own (not valid Unicode text); Cc: control characters.
    return category not in ("Cs", "Cc")


def bound_text(text: str, limit: int = DEFAULT_LIMIT) -> BoundedText:
    """`text` cleaned and cut to `limit` characters (cut at the last space when there is one near the end)."""
    # A huge message is cut before cleaning, so cleaning costs no more than a few times the limit.
    huge = len(text) > limit * 4
    cleaned = clean_text(text[: limit * 4]).strip()
    if len(cleaned) <= limit:
        return BoundedText(cleaned, cut=huge)
    head = cleaned[:limit]
    space = head.rfind(" ", limit - 40)
    return BoundedText((head[:space] if space > 0 else head).rstrip(), cut=True)


def bound_question(question: Question, limit: int = DEFAULT_LIMIT) -> tuple[Question, bool]:
    """The question with its text and every earlier turn bounded; True when the customer's own text was cut."""
    bounded = bound_text(question.text, limit)
    history = tuple(Turn(turn.role, bound_text(turn.text, limit).text) for turn in question.history)
    if bounded.text == question.text and history == question.history:
        return question, False
    return replace(question, text=bounded.text, history=history), bounded.cut
