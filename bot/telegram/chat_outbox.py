"""Messages waiting for customers' Telegram chats, kept in the database until Telegram has them.

Everything the bot says to a customer goes through here: answers, its own notices, officers' replies and "Tanya
is back". A handler never sends; it queues the pieces of its reply in the same transaction that marks its update
done (and, for a new ticket, queues the officers'-group post), so a kill either leaves the update to run again
with nothing sent or leaves the reply to be sent: never half of it, never the same turn handled twice. Each piece
of a long message is a row of its own, sent in order per chat; a piece that fails is retried with a growing pause
(Telegram's `retry_after` when it gives one) while other chats go on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, Boolean, Integer, Text, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.core.clock import utcnow
from bot.storage.database import Base, Database
from bot.storage.handoff_store import TicketMessageRow
from bot.telegram.channel_store import UpdateRow
from bot.telegram.group_outbox import GroupPostRow
from bot.telegram.retry_policy import RetriedRow, pause_after


class ChatPieceRow(RetriedRow, Base):
    __tablename__ = "telegram_chat_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    text: Mapped[str] = mapped_column(Text)
    keyboard: Mapped[str | None] = mapped_column(Text, nullable=True)  # the InlineKeyboardMarkup as JSON
    # Set for an officer's reply: if it can never be delivered, the officers are told about this ticket.
    ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    report_failure: Mapped[bool] = mapped_column(Boolean, default=False)


@dataclass(frozen=True)
class Piece:
    """One message to queue: Telegram HTML and, optionally, its inline keyboard (as `to_dict()` gives it)."""

    html: str
    keyboard: dict[str, object] | None = None


@dataclass(frozen=True)
class ChatPiece:
    """One queued piece, as the courier sends it."""

    id: int
    chat_id: int
    text: str
    keyboard: dict[str, object] | None
    ticket_id: int | None
    report_failure: bool
    attempts: int


@dataclass(frozen=True)
class GroupPosting:
    """An officers'-group post queued together with a reply (the ticket the reply opened)."""

    ticket_id: int
    pieces: Sequence[str]


def _piece(row: ChatPieceRow) -> ChatPiece:
    keyboard = json.loads(row.keyboard) if row.keyboard else None
    return ChatPiece(row.id, row.chat_id, row.text, keyboard, row.ticket_id, row.report_failure, row.attempts)


class ChatOutbox:
    """The customers' queued pieces, in the shared database."""

    def __init__(self, database: Database) -> None:
        self.db = database
        database.create_tables()

    def add(
        self,
        chat_id: int,
        pieces: Sequence[Piece],
        done_update: tuple[int, int] | None = None,
        group_post: GroupPosting | None = None,
    ) -> None:
        """Queue `pieces` for `chat_id`, in order; in the same transaction mark the update `(bot id, update id)`
        done and queue `group_post`, so the turn is either wholly queued or not at all. An update already done
        queues nothing: another replica ran it too (resumed it at its start) and queued its reply first."""
        with self.db.session() as session, session.begin():
            if done_update is not None:
                bot_id, update_id = done_update
                marked = session.execute(
                    update(UpdateRow)
                    .where(UpdateRow.bot_id == bot_id, UpdateRow.update_id == update_id, UpdateRow.done_at.is_(None))
                    .values(done_at=utcnow(), payload=None)
                )
                if not getattr(marked, "rowcount", 0) and session.get(UpdateRow, (bot_id, update_id)) is not None:
                    return
            self._add_rows(session, chat_id, pieces)
            if group_post is not None:
                for text in group_post.pieces:
                    session.add(GroupPostRow(ticket_id=group_post.ticket_id, text=text))

    def take_ticket_message(
        self, message_id: int, chat_id: int, ticket_id: int, pieces: Sequence[Piece], report_failure: bool
    ) -> bool:
        """Move an undelivered ticket message (an officer's reply, a notice) into the queue: its pieces queued and
        the message marked delivered in one step. False when another courier took it first."""
        with self.db.session() as session, session.begin():
            taken = session.execute(
                update(TicketMessageRow)
                .where(TicketMessageRow.id == message_id, TicketMessageRow.delivered.is_(False))
                .values(delivered=True)
            )
            if not getattr(taken, "rowcount", 0):
                return False
            self._add_rows(session, chat_id, pieces, ticket_id, report_failure)
            return True

    @staticmethod
    def _add_rows(
        session: Session,
        chat_id: int,
        pieces: Sequence[Piece],
        ticket_id: int | None = None,
        report_failure: bool = False,
    ) -> None:
        for piece in pieces:
            keyboard = json.dumps(piece.keyboard, ensure_ascii=False) if piece.keyboard else None
            session.add(
                ChatPieceRow(
                    chat_id=chat_id,
                    text=piece.html,
                    keyboard=keyboard,
                    ticket_id=ticket_id,
                    report_failure=report_failure,
                )
            )

    def due(self, limit: int, now: datetime | None = None) -> list[ChatPiece]:
        """The oldest piece of each chat whose pause is over, at most `limit` chats, oldest first. A chat's later
        pieces wait behind its first, so every chat reads its messages in order."""
        with self.db.session() as session:
            firsts = select(func.min(ChatPieceRow.id)).group_by(ChatPieceRow.chat_id).scalar_subquery()
            rows = session.scalars(
                select(ChatPieceRow)
                .where(ChatPieceRow.id.in_(firsts), ChatPieceRow.next_attempt_at <= (now or utcnow()))
                .order_by(ChatPieceRow.id)
                .limit(limit)
            )
            return [_piece(r) for r in rows]

    def sent(self, piece: ChatPiece) -> None:
        """Telegram has the piece: forget it."""
        with self.db.session() as session, session.begin():
            session.execute(delete(ChatPieceRow).where(ChatPieceRow.id == piece.id))

    def failed(self, piece: ChatPiece, error: str, retry_after: float | None = None) -> timedelta:
        """The try failed: wait (Telegram's retry_after when it gave one) and try again; returns the pause."""
        pause = pause_after(piece.attempts + 1, retry_after)
        with self.db.session() as session, session.begin():
            session.execute(
                update(ChatPieceRow)
                .where(ChatPieceRow.id == piece.id)
                .values(attempts=ChatPieceRow.attempts + 1, last_error=error[:500], next_attempt_at=utcnow() + pause)
            )
        return pause

    def give_up(self, piece: ChatPiece, whole_chat: bool) -> list[ChatPiece]:
        """Drop a piece Telegram will never take (or, `whole_chat`, everything queued for a chat that is gone: the
        customer blocked the bot); returns what was dropped."""
        with self.db.session() as session, session.begin():
            query = select(ChatPieceRow).where(
                ChatPieceRow.chat_id == piece.chat_id if whole_chat else ChatPieceRow.id == piece.id
            )
            rows = list(session.scalars(query))
            dropped = [_piece(r) for r in rows]
            for row in rows:
                session.delete(row)
            return dropped

    def waiting(self) -> int:
        """How many pieces wait (for the log and tests)."""
        with self.db.session() as session:
            return int(session.scalar(select(func.count(ChatPieceRow.id))) or 0)
