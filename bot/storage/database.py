"""The SQL database (SQLite by default, any SQLAlchemy URL) holding tickets, interactions and feedback."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    """Every table of Tanya's database."""


class Database:
    """One engine and session factory; the stores built over it create their missing tables (`create_tables`)."""

    def __init__(self, url: str) -> None:
        url = driver_url(url)
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # pre_ping: a PostgreSQL connection dropped by a restart of the server is replaced, not handed out dead.
        self.engine: Engine = create_engine(url, future=True, pool_pre_ping=not url.startswith("sqlite"))
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._schema_lock = threading.Lock()
        self._tables_created: frozenset[str] = frozenset()

    def create_tables(self) -> None:
        """Create the missing tables of every store imported so far. Each store calls this when it is built, so
        the database knows none of them (a channel's tables live with the channel)."""
        with self._schema_lock:
            registered = frozenset(Base.metadata.tables)
            if registered != self._tables_created:
                Base.metadata.create_all(self.engine)
                self._tables_created = registered

    def session(self) -> Session:
        return self._sessions()

    def dispose(self) -> None:
        self.engine.dispose()


def driver_url(url: str) -> str:
    """The URL with the driver Tanya installs: `postgresql://` means psycopg 3 (SQLAlchemy would pick psycopg2)."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url.removeprefix(plain)
    return url


def _sqlite_pragmas(connection: object, _record: object) -> None:
    # WAL lets the web app, the bot and the CLI read while one of them writes; busy_timeout waits instead of failing.
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
