"""Every question and the engine's decision, with customer feedback: the editors' and analysts' record.

Questions are stored with phone numbers and NIKs masked; customers are stored as a salted hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from bot.core.clock import utcnow
from bot.core.masking import mask_personal_data
from bot.core.messages import DeclineReason, Outcome, Question, Reply
from bot.storage.database import Base, Database
from bot.storage.turn_keys import remember_in


class InteractionRow(Base):
    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), index=True)
    customer: Mapped[str] = mapped_column(String(64), index=True)
    question: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(10), index=True)
    reason: Mapped[str] = mapped_column(String(40), default="")
    source: Mapped[str] = mapped_column(String(300), default="")
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    lang: Mapped[str] = mapped_column(String(5), default="id")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)  # an editor attached it to an entry


class FeedbackRow(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"), index=True)
    helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


@dataclass(frozen=True)
class Interaction:
    id: int
    channel: str
    question: str
    outcome: str
    reason: str
    source: str
    confidence: float
    lang: str
    created_at: datetime
    helpful: bool | None
    resolved: bool


def customer_key(user: str) -> str:
    """A stable pseudonym for a customer (no raw chat ids in analytics)."""
    return hashlib.sha256(f"tanya:{user}".encode()).hexdigest()[:16]


class InteractionLog:
    """Records questions and decisions; answers the editors' and analytics' queries."""

    def __init__(self, database: Database) -> None:
        self.db = database
        database.create_tables()

    def record(self, question: Question, reply: Reply) -> int:
        """Store one question and its reply; returns the interaction id (for feedback buttons)."""
        with self.db.session() as session, session.begin():
            row = InteractionRow(
                channel=question.channel,
                customer=customer_key(question.user),
                question=mask_personal_data(question.text[:2000]),
                outcome=reply.outcome.value,
                reason=reply.reason or "",
                source=reply.source.ref if reply.source else "",
                confidence=reply.confidence,
                lang=reply.lang,
            )
            session.add(row)
            session.flush()
            remember_in(session, question.key, interaction_id=row.id)  # run again, the turn is not recorded twice
            return row.id

    def add_feedback(self, interaction_id: int, helpful: bool) -> None:
        with self.db.session() as session, session.begin():
            if session.get(InteractionRow, interaction_id) is not None:
                session.add(FeedbackRow(interaction_id=interaction_id, helpful=helpful))

    def mark_resolved(self, interaction_ids: list[int]) -> None:
        with self.db.session() as session, session.begin():
            for row in session.scalars(select(InteractionRow).where(InteractionRow.id.in_(interaction_ids))):
                row.resolved = True

    def interactions(self, since: datetime | None = None, limit: int = 10_000) -> list[Interaction]:
        """Recent interactions with their latest feedback, newest first."""
        with self.db.session() as session:
            query = select(InteractionRow).order_by(InteractionRow.id.desc()).limit(limit)
            if since is not None:
                query = query.where(InteractionRow.created_at >= since)
            rows = list(session.scalars(query))
            feedback: dict[int, bool] = {}
            if rows:
                for fb in session.scalars(
                    select(FeedbackRow)
                    .where(FeedbackRow.interaction_id.in_([r.id for r in rows]))
                    .order_by(FeedbackRow.id)
                ):
                    feedback[fb.interaction_id] = fb.helpful
            return [
                Interaction(
                    r.id,
                    r.channel,
                    r.question,
                    r.outcome,
                    r.reason,
                    r.source,
                    r.confidence,
                    r.lang,
                    r.created_at,
                    feedback.get(r.id),
                    r.resolved,
                )
                for r in rows
            ]

    def unanswered(self, low_confidence: float, limit: int = 500) -> list[Interaction]:
        """Questions editors should look at: handed off, refused, declined as off-topic, weakly answered, or marked
        not helpful (a wrongly refused or declined question is an editor's to correct, like a missed one)."""
        return [
            i
            for i in self.interactions(limit=limit * 4)
            if not i.resolved
            and (
                i.outcome in ("handoff", "refuse")
                or (i.outcome == Outcome.DECLINE and i.reason == DeclineReason.OFF_TOPIC)
                or (i.outcome == Outcome.ANSWER and i.confidence < low_confidence)
                or i.helpful is False
            )
        ][:limit]
