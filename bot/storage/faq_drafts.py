"""FAQ drafts from officers' answers: what customers asked a person, and what the person replied.

Whenever an officer answers a ticket (on any channel), the customer's question and the reply become a pending
draft, checked against the knowledge base for a near-duplicate entry. An editor then approves it (as a new
entry, or as another way of asking the entry it duplicates), edits it, or discards it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import DateTime, Float, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.core.clock import utcnow
from bot.core.drafts import DraftNotFoundError, DraftStatus, FaqDraft
from bot.core.masking import mask_personal_data
from bot.core.messages import MessageRole, SourceKind
from bot.core.tickets import Ticket, TicketMessage
from bot.engine import AnswerEngine
from bot.storage.database import Base, Database


class FaqDraftRow(Base):
    __tablename__ = "faq_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer, index=True)
    channel: Mapped[str] = mapped_column(String(20))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    officer: Mapped[str] = mapped_column(String(100), default="")
    duplicate_of: Mapped[str] = mapped_column(String(100), default="")  # FAQ id of a near-duplicate entry
    similarity: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(10), default=DraftStatus.PENDING, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    resolved_by: Mapped[str] = mapped_column(String(100), default="")
    resolved_entry: Mapped[str] = mapped_column(String(100), default="")  # the entry it became or joined


def _draft(row: FaqDraftRow) -> FaqDraft:
    return FaqDraft(
        row.id,
        row.ticket_id,
        row.channel,
        row.question,
        row.answer,
        row.officer,
        row.duplicate_of,
        row.similarity,
        DraftStatus(row.status),
        row.created_at,
        row.resolved_by,
        row.resolved_entry,
    )


class WrittenEntry(Protocol):
    """What writing an approved draft into the knowledge base reports: the entry it became or joined."""

    @property
    def entry_id(self) -> str: ...


Written = TypeVar("Written", bound=WrittenEntry)


def question_before(ticket: Ticket, reply: TicketMessage) -> str:
    """What the customer asked that `reply` answers: their messages since the previous officer reply.

    When the customer sent nothing new (a "talk to a person" press), their latest earlier message is used.
    """
    earlier = [m for m in ticket.messages if m.id < reply.id]
    since_officer: list[str] = []
    for message in reversed(earlier):
        if message.role == MessageRole.OFFICER:
            break
        if message.role == MessageRole.CUSTOMER and message.text.strip():
            since_officer.insert(0, message.text.strip())
    if since_officer:
        return " ".join(since_officer)
    return next((m.text.strip() for m in reversed(earlier) if m.role == MessageRole.CUSTOMER and m.text.strip()), "")


def nearest_entry(engine: AnswerEngine, question: str) -> tuple[str, float] | None:
    """The FAQ entry best matching `question`, with the engine's confidence that it answers it."""
    candidates = engine.retriever.retrieve(question, k=5)
    for position, candidate in enumerate(candidates):
        if candidate.kind == SourceKind.FAQ:
            return candidate.ref, engine.confidence_model.confidence(candidates[position:])
    return None


class DraftStore:
    """Pending FAQ drafts and what editors did with them."""

    def __init__(self, database: Database) -> None:
        self.db = database
        database.create_tables()
        # Held by every editor's decision, so a draft is checked, written and marked by one of them at a time.
        self._deciding = threading.RLock()

    def propose(self, ticket: Ticket, reply: TicketMessage, engine: AnswerEngine) -> FaqDraft | None:
        """Turn an officer's reply into a pending draft; a follow-up reply to the same question extends it."""
        question = question_before(ticket, reply)
        answer = reply.text.strip()
        if not question or not answer:
            return None
        with self._deciding, self.db.session() as session, session.begin():  # not while an editor decides it
            latest = session.scalars(
                select(FaqDraftRow).where(FaqDraftRow.ticket_id == ticket.id).order_by(FaqDraftRow.id.desc())
            ).first()
            if latest is not None and latest.status == DraftStatus.PENDING and latest.question == question:
                latest.answer = f"{latest.answer}\n{answer}"
                session.flush()
                return _draft(latest)
        match = nearest_entry(engine, question)
        duplicate, similarity = ("", 0.0)
        if match is not None and match[1] >= engine.threshold:
            duplicate, similarity = match
        elif match is not None:
            similarity = match[1]
        with self.db.session() as session, session.begin():
            row = FaqDraftRow(
                ticket_id=ticket.id,
                channel=ticket.channel,
                question=mask_personal_data(question),
                answer=mask_personal_data(answer),
                officer=reply.author,
                duplicate_of=duplicate,
                similarity=similarity,
            )
            session.add(row)
            session.flush()
            return _draft(row)

    def get(self, draft_id: int) -> FaqDraft:
        with self.db.session() as session:
            row = session.get(FaqDraftRow, draft_id)
            if row is None:
                raise DraftNotFoundError(f"draft {draft_id} does not exist")
            return _draft(row)

    def pending(self, limit: int = 200) -> list[FaqDraft]:
        """Drafts waiting for an editor, newest first."""
        with self.db.session() as session:
            query = (
                select(FaqDraftRow)
                .where(FaqDraftRow.status == DraftStatus.PENDING)
                .order_by(FaqDraftRow.id.desc())
                .limit(limit)
            )
            return [_draft(r) for r in session.scalars(query)]

    def edit(self, draft_id: int, question: str, answer: str) -> FaqDraft:
        """Change a pending draft's wording before it is approved."""
        with self._deciding, self.db.session() as session, session.begin():
            row = self._pending_row(session, draft_id)
            row.question, row.answer = mask_personal_data(question.strip()), mask_personal_data(answer.strip())
            session.flush()
            return _draft(row)

    def approve(self, draft_id: int, *, by: str, write: Callable[[], Written]) -> Written:
        """Approve a pending draft: check it is still pending, then `write` it into the knowledge base, then mark it
        approved into the entry written, in one transaction under one lock. A draft decided already is refused
        before anything is written; when `write` fails, the draft stays pending."""
        with self._deciding, self.db.session() as session, session.begin():
            row = self._pending_row(session, draft_id)
            written = write()
            row.status, row.resolved_at, row.resolved_by = DraftStatus.APPROVED, utcnow(), by
            row.resolved_entry = written.entry_id
            return written

    def resolve(self, draft_id: int, *, approved: bool, by: str, entry_id: str = "") -> FaqDraft:
        """Record that an editor approved the draft (into `entry_id`) or discarded it."""
        with self._deciding, self.db.session() as session, session.begin():
            row = self._pending_row(session, draft_id)
            row.status = DraftStatus.APPROVED if approved else DraftStatus.DISCARDED
            row.resolved_at, row.resolved_by, row.resolved_entry = utcnow(), by, entry_id
            session.flush()
            return _draft(row)

    @staticmethod
    def _pending_row(session: Session, draft_id: int) -> FaqDraftRow:
        row = session.get(FaqDraftRow, draft_id, with_for_update=True)  # locks the row where the database can
        if row is None:
            raise DraftNotFoundError(f"draft {draft_id} does not exist")
        if row.status != DraftStatus.PENDING:
            raise DraftNotFoundError(f"draft {draft_id} was already {row.status} by {row.resolved_by or 'someone'}")
        return row
