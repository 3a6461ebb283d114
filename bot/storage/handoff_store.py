"""Handoff tickets: conversations passed to officers, their messages, and the outbox of replies to deliver.

Every channel uses the same store. An officer's reply is stored undelivered; the customer's channel
delivers it (Telegram sends it, the web chat shows it) and marks it delivered. This works across processes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.core.clock import utcnow
from bot.core.masking import mask_personal_data
from bot.core.messages import MessageRole, Turn
from bot.core.tickets import Ticket, TicketMessage, TicketNotFoundError, TicketStatus
from bot.storage.database import Base, Database
from bot.storage.turn_keys import remember_in


class TicketRow(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), index=True)
    customer: Mapped[str] = mapped_column(String(100), index=True)  # chat id or web session id
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(String(40))
    lang: Mapped[str] = mapped_column(String(5), default="id")
    status: Mapped[str] = mapped_column(String(10), default=TicketStatus.OPEN, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    closed_by: Mapped[str] = mapped_column(String(100), default="")
    messages: Mapped[list[TicketMessageRow]] = relationship(order_by="TicketMessageRow.id", lazy="selectin")


class TicketMessageRow(Base):
    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))  # customer, bot, officer, system, note (officers only)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    delivered: Mapped[bool] = mapped_column(Boolean, default=True, index=True)


def _message(row: TicketMessageRow) -> TicketMessage:
    return TicketMessage(
        row.id, row.ticket_id, MessageRole(row.role), row.text, row.author, row.created_at, row.delivered
    )


def _ticket(row: TicketRow) -> Ticket:
    return Ticket(
        row.id,
        row.channel,
        row.customer,
        row.customer_name,
        row.reason,
        row.lang,
        TicketStatus(row.status),
        row.created_at,
        row.updated_at,
        tuple(_message(m) for m in row.messages),
    )


class HandoffStore:
    """Create, extend, answer and close tickets; texts are stored with phone numbers and NIKs masked."""

    def __init__(self, database: Database) -> None:
        self.db = database
        database.create_tables()

    def open_ticket(
        self,
        channel: str,
        customer: str,
        reason: str,
        lang: str,
        transcript: list[Turn],
        customer_name: str = "",
        turn_key: str | None = None,
    ) -> Ticket:
        """Open a ticket with the recent conversation, or add to the customer's open one; `turn_key` names the
        customer message this is for (`bot.storage.turn_keys`)."""
        with self.db.session() as session, session.begin():
            row = session.scalars(
                select(TicketRow).where(
                    TicketRow.channel == channel, TicketRow.customer == customer, TicketRow.status == TicketStatus.OPEN
                )
            ).first()
            if row is None:
                row = TicketRow(
                    channel=channel, customer=customer, customer_name=customer_name, reason=reason, lang=lang
                )
                session.add(row)
                session.flush()
            for turn in transcript:
                session.add(TicketMessageRow(ticket_id=row.id, role=turn.role, text=mask_personal_data(turn.text)))
            row.updated_at = utcnow()
            remember_in(session, turn_key, ticket_id=row.id)
        return self.get(row.id)

    def find_open(self, channel: str, customer: str) -> Ticket | None:
        """The customer's open ticket, if a person has taken over their conversation."""
        with self.db.session() as session:
            row = session.scalars(
                select(TicketRow).where(
                    TicketRow.channel == channel, TicketRow.customer == customer, TicketRow.status == TicketStatus.OPEN
                )
            ).first()
            return _ticket(row) if row else None

    def get(self, ticket_id: int) -> Ticket:
        with self.db.session() as session:
            row = session.get(TicketRow, ticket_id)
            if row is None:
                raise TicketNotFoundError(f"ticket {ticket_id} does not exist")
            return _ticket(row)

    def add_message(
        self, ticket_id: int, role: MessageRole, text: str, author: str = "", turn_key: str | None = None
    ) -> TicketMessage:
        """Append a message; an officer's message waits in the outbox until its channel delivers it. `turn_key`
        names the customer message it is (`bot.storage.turn_keys`)."""
        with self.db.session() as session, session.begin():
            ticket = session.get(TicketRow, ticket_id)
            if ticket is None:
                raise TicketNotFoundError(f"ticket {ticket_id} does not exist")
            row = TicketMessageRow(
                ticket_id=ticket_id,
                role=role,
                text=mask_personal_data(text),
                author=author,
                delivered=role not in (MessageRole.OFFICER, MessageRole.SYSTEM),
            )
            session.add(row)
            ticket.updated_at = utcnow()
            session.flush()
            remember_in(session, turn_key, ticket_id=ticket_id)
            return _message(row)

    def close(self, ticket_id: int, by: str = "", notice: str = "") -> Ticket:
        """Close a ticket; `notice` (the bot is back) is queued for the customer's channel."""
        with self.db.session() as session, session.begin():
            row = session.get(TicketRow, ticket_id)
            if row is None:
                raise TicketNotFoundError(f"ticket {ticket_id} does not exist")
            if row.status == TicketStatus.OPEN:
                row.status, row.closed_at, row.closed_by, row.updated_at = TicketStatus.CLOSED, utcnow(), by, utcnow()
                if notice:
                    session.add(
                        TicketMessageRow(
                            ticket_id=ticket_id, role=MessageRole.SYSTEM, text=notice, author=by, delivered=False
                        )
                    )
        return self.get(ticket_id)

    def list_tickets(self, status: TicketStatus | None = TicketStatus.OPEN, limit: int = 100) -> list[Ticket]:
        """Tickets, newest activity first."""
        with self.db.session() as session:
            query = select(TicketRow).order_by(TicketRow.updated_at.desc(), TicketRow.id.desc()).limit(limit)
            if status:
                query = query.where(TicketRow.status == status)
            return [_ticket(r) for r in session.scalars(query)]

    def pending_deliveries(self, channel: str) -> list[tuple[Ticket, TicketMessage]]:
        """Officer replies and notices not yet delivered to customers on `channel`, oldest first."""
        with self.db.session() as session:
            rows = session.execute(
                select(TicketMessageRow, TicketRow)
                .join(TicketRow, TicketRow.id == TicketMessageRow.ticket_id)
                .where(TicketRow.channel == channel, TicketMessageRow.delivered.is_(False))
                .order_by(TicketMessageRow.id)
            ).all()
            return [(_ticket(t), _message(m)) for m, t in rows]

    def mark_delivered(self, message_id: int) -> None:
        with self.db.session() as session, session.begin():
            row = session.get(TicketMessageRow, message_id)
            if row is not None:
                row.delivered = True

    def close_idle(self, idle: timedelta, notice_for: dict[str, str] | None = None) -> list[Ticket]:
        """Close open tickets with no activity for `idle`; queue the per-language notice to their customers."""
        cutoff = utcnow() - idle
        with self.db.session() as session:
            ids = [
                (r.id, r.lang)
                for r in session.scalars(
                    select(TicketRow).where(TicketRow.status == TicketStatus.OPEN, TicketRow.updated_at < cutoff)
                )
            ]
        return [self.close(i, by="idle-timeout", notice=(notice_for or {}).get(lang, "")) for i, lang in ids]
