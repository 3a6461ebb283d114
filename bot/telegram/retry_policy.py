"""How the Telegram outboxes retry: the columns a queued row keeps for it, and the pause after each failure."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import DateTime, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column
from telegram.error import RetryAfter

from bot.core.clock import utcnow

FIRST_RETRY_SECONDS = 5.0
LAST_RETRY_SECONDS = 300.0  # a chat or group that is down is tried at least every five minutes


class RetriedRow:
    """The columns of a queued row that is tried until Telegram takes it (mixed into each outbox's table)."""

    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


def retry_delay(attempts: int) -> timedelta:
    """The pause after the `attempts`-th failure: 5 s, 10 s, 20 s… up to five minutes."""
    return timedelta(seconds=min(LAST_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** min(attempts - 1, 16)))


def pause_after(attempts: int, retry_after: float | None) -> timedelta:
    """The pause after a row's `attempts`-th failure: Telegram's retry_after when it gave one."""
    return timedelta(seconds=retry_after) if retry_after else retry_delay(attempts)


def retry_after_seconds(error: RetryAfter) -> float:
    """How long Telegram asked to wait (python-telegram-bot gives seconds or a timedelta)."""
    wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
