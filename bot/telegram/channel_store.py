"""What the Telegram channel remembers across restarts: which officers'-group posts belong to which ticket
(so a reply to any of them reaches the right customer), and which updates were already handled (so an update
Telegram delivers twice is answered once)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from bot.database import Base, Database, utcnow


class TicketPostRow(Base):
    __tablename__ = "telegram_ticket_posts"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SeenUpdateRow(Base):
    __tablename__ = "telegram_seen_updates"

    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class TelegramChannelStore:
    """Ticket posts in the officers' group and handled update ids, in the shared database."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def remember_post(self, chat_id: int, message_id: int, ticket_id: int) -> None:
        """Record that the bot's message `message_id` in `chat_id` is about `ticket_id`."""
        with self.db.session() as session, session.begin():
            session.merge(TicketPostRow(chat_id=chat_id, message_id=message_id, ticket_id=ticket_id))

    def ticket_for_post(self, chat_id: int, message_id: int) -> int | None:
        """The ticket a bot message in the officers' group belongs to, if any."""
        with self.db.session() as session:
            row = session.get(TicketPostRow, (chat_id, message_id))
            return row.ticket_id if row else None

    def first_delivery(self, bot_id: int, update_id: int) -> bool:
        """True the first time an update is seen; False for a repeat delivery of the same update."""
        try:
            with self.db.session() as session, session.begin():
                session.add(SeenUpdateRow(bot_id=bot_id, update_id=update_id))
        except IntegrityError:
            return False
        return True

    def was_seen(self, bot_id: int, update_id: int) -> bool:
        with self.db.session() as session:
            return session.get(SeenUpdateRow, (bot_id, update_id)) is not None

    def forget_updates_before(self, cutoff: datetime) -> int:
        """Drop handled-update records older than `cutoff` (Telegram never redelivers that late)."""
        with self.db.session() as session, session.begin():
            result = session.execute(delete(SeenUpdateRow).where(SeenUpdateRow.seen_at < cutoff))
            return int(getattr(result, "rowcount", 0) or 0)

    def posts_of(self, ticket_id: int) -> list[tuple[int, int]]:
        """(chat id, message id) of every group post about a ticket, oldest first."""
        with self.db.session() as session:
            rows = session.scalars(
                select(TicketPostRow).where(TicketPostRow.ticket_id == ticket_id).order_by(TicketPostRow.created_at)
            )
            return [(r.chat_id, r.message_id) for r in rows]
