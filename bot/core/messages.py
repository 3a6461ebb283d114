"""Typed messages at the boundary: every channel turns its input into a `Question` and renders a `Reply`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """What the engine decided to do with a question."""

    ANSWER = "answer"
    HANDOFF = "handoff"
    REFUSE = "refuse"
    DECLINE = "decline"


class Channel(StrEnum):
    """Where a question came from (stored with tickets and interactions; analytics counts customers' channels)."""

    TELEGRAM = "telegram"
    WEB = "web"
    CLI = "cli"
    EVAL = "eval"  # `tanya eval`
    OFFICER_SMS = "officer-sms"  # an officer's quick SMS answer, not a customer


class HandoffReason(StrEnum):
    """Why a conversation goes to a person (also used in analytics)."""

    LOW_CONFIDENCE = "low_confidence"
    ASKED_FOR_PERSON = "asked_for_person"
    ANGRY = "angry"
    ACCOUNT_DATA = "account_data"


class DeclineReason(StrEnum):
    """Why the bot answers with no FAQ entry and no person (stored with each interaction)."""

    EMPTY = "empty"
    GREETING = "greeting"
    OFF_TOPIC = "off_topic"


class RefuseReason(StrEnum):
    """Why the bot refuses (stored with each interaction)."""

    PRIVACY = "privacy"  # another person's data


class MessageRole(StrEnum):
    """Who wrote a message of a conversation or a ticket (stored with each ticket message)."""

    CUSTOMER = "customer"
    BOT = "bot"
    OFFICER = "officer"
    SYSTEM = "system"  # a notice the customer sees (the ticket was closed, say)
    NOTE = "note"  # for officers only (a reply that could not be delivered, say)


class SourceKind(StrEnum):
    """What an answer's source is (stored in the index's metadata)."""

    FAQ = "faq"
    DOC = "doc"  # a section of a product document


@dataclass(frozen=True)
class Turn:
    """One earlier message in the conversation."""

    role: MessageRole
    text: str


@dataclass(frozen=True)
class Question:
    """A customer's message as the core sees it, whatever channel it came from."""

    text: str
    user: str = "anonymous"
    channel: str = Channel.CLI
    history: tuple[Turn, ...] = ()
    # Names the message when its channel may run it again (Telegram after a restart): handled once (`TurnKeys`).
    key: str | None = None


@dataclass(frozen=True)
class Source:
    """Where an answer came from: an FAQ entry or a section of a product document."""

    kind: SourceKind
    ref: str  # FAQ id, or "path#section"
    title: str

    def __str__(self) -> str:
        return self.ref


@dataclass(frozen=True)
class Reply:
    """The core's decision, as structure; each channel formats it its own way."""

    outcome: Outcome
    text: str
    lang: str
    confidence: float
    source: Source | None = None
    reason: str | None = None
    alternatives: tuple[Source, ...] = field(default=())

    def as_json(self, question: str) -> dict[str, Any]:
        """The stable CLI/JSONL shape: question, outcome, text, source, confidence, lang."""
        return {
            "question": question,
            "outcome": self.outcome.value,
            "text": self.text,
            "source": self.source.ref if self.source else None,
            "confidence": round(self.confidence, 4),
            "lang": self.lang,
        }
