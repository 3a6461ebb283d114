"""Leases in the shared database: which replica does the work that must run once (`bot.core.cluster`).

A lease is a row (name, holder, expiry). Taking it is one conditional UPDATE, which SQLite and PostgreSQL both
apply atomically: it succeeds for the holder (a renewal) or when the lease has expired (a takeover). A holder
that dies stops renewing, and another replica takes over within the lease's length.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import DateTime, String, or_, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from bot.core.clock import utcnow
from bot.storage.database import Base, Database

log = logging.getLogger(__name__)


class LeaseRow(Base):
    __tablename__ = "cluster_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(DateTime)


def process_name() -> str:
    """This process among the replicas: host, pid and a random part (a pid is reused after a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class DatabaseLeases:
    """Leases for one process (`holder`), kept in the shared database."""

    def __init__(self, database: Database, holder: str | None = None) -> None:
        self.db = database
        self.holder = holder or process_name()
        self._held: set[str] = set()
        database.create_tables()

    def hold(self, name: str, seconds: float) -> bool:
        """Take or renew `name` until `seconds` from now; False while another live holder has it. A database
        error counts as not holding it (the work waits for the next round rather than running twice)."""
        now = utcnow()
        until = now + timedelta(seconds=seconds)
        try:
            held = self._renew_or_take(name, now, until) or self._create(name, until)
        except SQLAlchemyError as error:
            log.warning("Could not take the lease %r: %s", name, type(error).__name__)
            held = False
        self._note(name, held)
        return held

    def release(self, name: str) -> None:
        try:
            with self.db.session() as session, session.begin():
                session.execute(
                    update(LeaseRow)
                    .where(LeaseRow.name == name, LeaseRow.holder == self.holder)
                    .values(expires_at=utcnow() - timedelta(seconds=1))
                )
        except SQLAlchemyError as error:  # it expires by itself
            log.warning("Could not release the lease %r: %s", name, type(error).__name__)
        self._held.discard(name)

    def _renew_or_take(self, name: str, now: datetime, until: datetime) -> bool:
        with self.db.session() as session, session.begin():
            result = session.execute(
                update(LeaseRow)
                .where(LeaseRow.name == name, or_(LeaseRow.holder == self.holder, LeaseRow.expires_at < now))
                .values(holder=self.holder, expires_at=until)
            )
            return bool(getattr(result, "rowcount", 0))

    def _create(self, name: str, until: datetime) -> bool:
        """The first take of a lease nobody has held: the row's primary key lets one replica win."""
        try:
            with self.db.session() as session, session.begin():
                if session.get(LeaseRow, name) is not None:
                    return False  # exists and held by another (the UPDATE before did not match)
                session.add(LeaseRow(name=name, holder=self.holder, expires_at=until))
        except IntegrityError:
            return False
        return True

    def _note(self, name: str, held: bool) -> None:
        if held and name not in self._held:
            log.info("This process now does %s for the cluster", name)
            self._held.add(name)
        elif not held and name in self._held:
            log.info("Another process does %s now", name)
            self._held.discard(name)
