"""Which customer messages the conversation service has already handled, by a key the channel gives them.

A channel that may run a message again (Telegram after a kill: its update was stored but not marked done) names
it with a key (`Question.key`). The stores write the key in the transaction that records the interaction and in
the one that opens the ticket or adds the message to it (`remember_in`); run again, the message is answered from
that record instead of being recorded, forwarded or handed off a second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.core.clock import utcnow
from bot.storage.database import Base, Database


class TurnKeyRow(Base):
    __tablename__ = "turn_keys"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    interaction_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


@dataclass(frozen=True)
class HandledTurn:
    """What a keyed message left behind: its interaction (None when it went to an officer's open ticket) and the
    ticket it opened or was added to."""

    interaction_id: int | None
    ticket_id: int | None


def remember_in(
    session: Session, key: str | None, interaction_id: int | None = None, ticket_id: int | None = None
) -> None:
    """Record (or complete) what the message `key` left behind, in the caller's transaction; no key, nothing."""
    if not key:
        return
    row = session.get(TurnKeyRow, key)
    if row is None:
        session.add(TurnKeyRow(key=key, interaction_id=interaction_id, ticket_id=ticket_id))
        return
    row.interaction_id = interaction_id if interaction_id is not None else row.interaction_id
    row.ticket_id = ticket_id if ticket_id is not None else row.ticket_id


class TurnKeys:
    """The keys of handled messages, in the shared database."""

    def __init__(self, database: Database) -> None:
        self.db = database
        database.create_tables()

    def get(self, key: str) -> HandledTurn | None:
        with self.db.session() as session:
            row = session.get(TurnKeyRow, key)
            return HandledTurn(row.interaction_id, row.ticket_id) if row else None

    def forget_before(self, cutoff: datetime) -> int:
        """Drop keys older than `cutoff` (no channel runs a message again that late); returns how many."""
        with self.db.session() as session, session.begin():
            result = session.execute(delete(TurnKeyRow).where(TurnKeyRow.created_at < cutoff))
            return int(getattr(result, "rowcount", 0) or 0)
