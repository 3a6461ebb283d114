"""Posts waiting for the officers' group, kept in the database until Telegram has them.

A ticket post that fails (the group is unreachable, the bot was removed, Telegram is down, a 429) stays here and is
retried with a growing pause, so it reaches the group once the group is reachable again, also after a restart.
Posts go out in the order they were made; each piece of a long post is a row of its own, so a piece already posted
is never posted again when a later one fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, ForeignKey, Integer, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column

from bot.core.clock import utcnow
from bot.storage.database import Base, Database
from bot.telegram.channel_store import TicketPostRow
from bot.telegram.retry_policy import RetriedRow, pause_after


class GroupPostRow(RetriedRow, Base):
    __tablename__ = "telegram_group_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    reply_to: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


@dataclass(frozen=True)
class GroupPost:
    """One piece waiting for the group."""

    id: int
    ticket_id: int
    text: str
    reply_to: int | None
    attempts: int


@dataclass(frozen=True)
class Backlog:
    """What waits for the group, and why the last try failed (for the log and the officers' console)."""

    count: int
    oldest: datetime | None
    last_error: str | None


class GroupOutbox:
    """The officers'-group posts not yet delivered, oldest first."""

    def __init__(self, database: Database) -> None:
        self.db = database
        database.create_tables()

    def add(self, ticket_id: int, pieces: list[str], reply_to: int | None = None) -> None:
        """Queue a post (its pieces in order; only the first replies to `reply_to`)."""
        with self.db.session() as session, session.begin():
            for number, piece in enumerate(pieces):
                session.add(GroupPostRow(ticket_id=ticket_id, text=piece, reply_to=reply_to if number == 0 else None))

    def next_due(self, now: datetime | None = None) -> GroupPost | None:
        """The oldest piece, when its pause is over (None while it waits: later posts keep their order behind it)."""
        with self.db.session() as session:
            row = session.scalars(select(GroupPostRow).order_by(GroupPostRow.id).limit(1)).first()
            if row is None or row.next_attempt_at > (now or utcnow()):
                return None
            return GroupPost(row.id, row.ticket_id, row.text, row.reply_to, row.attempts)

    def posted(self, post: GroupPost, chat_id: int, message_id: int) -> None:
        """The piece is in the group: forget it and remember which ticket the message is about, in one step."""
        with self.db.session() as session, session.begin():
            session.merge(TicketPostRow(chat_id=chat_id, message_id=message_id, ticket_id=post.ticket_id))
            row = session.get(GroupPostRow, post.id)
            if row is not None:
                session.delete(row)

    def failed(self, post: GroupPost, error: str, retry_after: float | None = None) -> timedelta:
        """The try failed: wait (Telegram's retry_after when it gave one) and try again; returns the pause."""
        pause = pause_after(post.attempts + 1, retry_after)
        with self.db.session() as session, session.begin():
            row = session.get(GroupPostRow, post.id)
            if row is not None:
                row.attempts += 1
                row.last_error = error[:500]
                row.next_attempt_at = utcnow() + pause
        return pause

    def drop(self, post: GroupPost) -> None:
        """Give a piece up (Telegram refused its content: sending it again would fail the same way)."""
        with self.db.session() as session, session.begin():
            row = session.get(GroupPostRow, post.id)
            if row is not None:
                session.delete(row)

    def backlog(self) -> Backlog:
        with self.db.session() as session:
            count, oldest = session.execute(
                select(func.count(GroupPostRow.id), func.min(GroupPostRow.created_at))
            ).one()
            error = session.scalars(
                select(GroupPostRow.last_error).where(GroupPostRow.last_error.is_not(None)).order_by(GroupPostRow.id)
            ).first()
            return Backlog(int(count), oldest, error)
