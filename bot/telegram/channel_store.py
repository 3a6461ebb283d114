"""What the Telegram channel remembers across restarts: which officers'-group posts belong to which ticket (so a
reply to any of them reaches the right customer), and every update received until it has been handled (the
durable inbox behind `bot.telegram.update_inbox`: an update is stored before Telegram is told it arrived, so a
restart handles what a killed process had not, and a repeated delivery is recognised and dropped)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, Text, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from bot.core.clock import utcnow
from bot.storage.database import Base, Database


class TicketPostRow(Base):
    __tablename__ = "telegram_ticket_posts"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class UpdateRow(Base):
    __tablename__ = "telegram_updates"

    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The update's JSON while it waits to be handled; erased once done, as it holds what the customer typed.
    payload: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    resumes: Mapped[int] = mapped_column(Integer, default=0)  # starts that found it unfinished


@dataclass(frozen=True)
class StoredUpdate:
    """An update as the inbox keeps it."""

    update_id: int
    payload: str | None
    received_at: datetime
    done_at: datetime | None
    resumes: int

    @property
    def is_done(self) -> bool:
        return self.done_at is not None


def _stored(row: UpdateRow) -> StoredUpdate:
    return StoredUpdate(row.update_id, row.payload, row.received_at, row.done_at, row.resumes)


class TelegramChannelStore:
    """Ticket posts in the officers' group and received updates, in the shared database."""

    def __init__(self, database: Database) -> None:
        self.db = database
        database.create_tables()

    # --- ticket posts ---------------------------------------------------------------------------
    def remember_post(self, chat_id: int, message_id: int, ticket_id: int) -> None:
        """Record that the bot's message `message_id` in `chat_id` is about `ticket_id`."""
        with self.db.session() as session, session.begin():
            session.merge(TicketPostRow(chat_id=chat_id, message_id=message_id, ticket_id=ticket_id))

    def ticket_for_post(self, chat_id: int, message_id: int) -> int | None:
        """The ticket a bot message in the officers' group belongs to, if any."""
        with self.db.session() as session:
            row = session.get(TicketPostRow, (chat_id, message_id))
            return row.ticket_id if row else None

    def posts_of(self, ticket_id: int) -> list[tuple[int, int]]:
        """(chat id, message id) of every group post about a ticket, oldest first."""
        with self.db.session() as session:
            rows = session.scalars(
                select(TicketPostRow).where(TicketPostRow.ticket_id == ticket_id).order_by(TicketPostRow.created_at)
            )
            return [(r.chat_id, r.message_id) for r in rows]

    # --- received updates -----------------------------------------------------------------------
    def receive_update(self, bot_id: int, update_id: int, payload: str) -> bool:
        """Store an update as it arrives: True the first time, False for a repeated delivery (already stored)."""
        try:
            with self.db.session() as session, session.begin():
                session.add(UpdateRow(bot_id=bot_id, update_id=update_id, payload=payload))
        except IntegrityError:
            return False
        return True

    def mark_updates_done(self, bot_id: int, update_ids: Collection[int]) -> None:
        """These updates need nothing more: they are not run again after a restart, and their content is erased."""
        with self.db.session() as session, session.begin():
            session.execute(
                update(UpdateRow)
                .where(UpdateRow.bot_id == bot_id, UpdateRow.update_id.in_(update_ids), UpdateRow.done_at.is_(None))
                .values(done_at=utcnow(), payload=None)
            )

    def resume_unfinished(
        self,
        bot_id: int,
        give_up_after: int,
        received_before: datetime | None = None,
        excluding: Collection[int] = (),
    ) -> tuple[list[StoredUpdate], list[int]]:
        """At start: the updates a previous run stored but did not finish, oldest first, each counted as resumed
        once more; and the ids of those given up instead, having been resumed `give_up_after` times already (an
        update that kills the process every time must not keep the bot from starting). Later, for the updates of
        a replica that died: only those received before `received_before`, and none of `excluding` (in hand)."""
        query = select(UpdateRow).where(UpdateRow.bot_id == bot_id, UpdateRow.done_at.is_(None))
        if received_before is not None:
            query = query.where(UpdateRow.received_at < received_before)
        with self.db.session() as session, session.begin():
            rows = session.scalars(
                query.order_by(UpdateRow.received_at, UpdateRow.update_id).with_for_update(skip_locked=True)
            ).all()
            resumed, given_up = [], []
            for row in rows:
                if row.update_id in excluding:
                    continue
                if row.resumes >= give_up_after:
                    row.done_at, row.payload = utcnow(), None
                    given_up.append(row.update_id)
                else:
                    row.resumes += 1
                    resumed.append(_stored(row))
            return resumed, given_up

    def stored_update(self, bot_id: int, update_id: int) -> StoredUpdate | None:
        """What the inbox holds of one update, if it was received."""
        with self.db.session() as session:
            row = session.get(UpdateRow, (bot_id, update_id))
            return _stored(row) if row else None

    def forget_updates_before(self, cutoff: datetime) -> int:
        """Drop records of updates handled before `cutoff` (Telegram never redelivers that late); returns how many."""
        with self.db.session() as session, session.begin():
            result = session.execute(delete(UpdateRow).where(UpdateRow.done_at < cutoff))
            return int(getattr(result, "rowcount", 0) or 0)
