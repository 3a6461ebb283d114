"""FAQ drafts made from officers' answers, as every layer sees them (the draft store keeps them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class DraftStatus(StrEnum):
    """Where a draft stands (stored with each draft)."""

    PENDING = "pending"
    APPROVED = "approved"
    DISCARDED = "discarded"


@dataclass(frozen=True)
class FaqDraft:
    """A proposed FAQ entry from an officer's answer, waiting for an editor."""

    id: int
    ticket_id: int
    channel: str
    question: str
    answer: str
    officer: str
    duplicate_of: str
    similarity: float
    status: DraftStatus
    created_at: datetime
    resolved_by: str
    resolved_entry: str


class DraftNotFoundError(LookupError):
    pass
