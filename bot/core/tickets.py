"""Handed-off conversations as every layer sees them: a ticket and its messages (the store keeps them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.core.messages import MessageRole


class TicketStatus(StrEnum):
    """Whether a person still holds the conversation (stored with each ticket)."""

    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class TicketMessage:
    id: int
    ticket_id: int
    role: MessageRole
    text: str
    author: str
    created_at: datetime
    delivered: bool


@dataclass(frozen=True)
class Ticket:
    """A handed-off conversation, as officers and channels see it."""

    id: int
    channel: str
    customer: str
    customer_name: str
    reason: str
    lang: str
    status: TicketStatus
    created_at: datetime
    updated_at: datetime
    messages: tuple[TicketMessage, ...]

    @property
    def is_open(self) -> bool:
        return self.status is TicketStatus.OPEN

    def transcript(self) -> str:
        return "\n".join(f"{m.role}: {m.text}" for m in self.messages)


class TicketNotFoundError(LookupError):
    pass
