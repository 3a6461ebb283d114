"""Leases in the shared database: the work that runs once across replicas goes to one process at a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from bot.storage.database import Database
from bot.storage.leases import DatabaseLeases, LeaseRow


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """One database that several replicas' lease keepers share: SQLite, and a real PostgreSQL server."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else f"sqlite:///{tmp_path}/t.db"
    database = Database(url)
    DatabaseLeases(database)  # creates the table
    with database.session() as session, session.begin():
        session.execute(delete(LeaseRow))
    yield database
    database.dispose()


def test_one_holder_at_a_time_until_it_expires_or_is_released(shared_db: Database) -> None:
    first, second = DatabaseLeases(shared_db, "replica-a"), DatabaseLeases(shared_db, "replica-b")
    assert first.hold("outbox", 2)
    assert not second.hold("outbox", 2)
    assert first.hold("outbox", 2)  # a renewal
    assert second.hold("calibration", 30)  # another lease is another row
    time.sleep(2.2)  # the holder stopped renewing (died)
    assert second.hold("outbox", 30)
    assert not first.hold("outbox", 30)
    first.release("outbox")  # not its lease: nothing changes
    assert not first.hold("outbox", 30)
    second.release("outbox")
    assert first.hold("outbox", 30)


def test_replicas_racing_for_a_new_lease_get_one_winner(shared_db: Database) -> None:
    keepers = [DatabaseLeases(shared_db, f"replica-{n}") for n in range(8)]
    start = threading.Barrier(len(keepers))
    won: list[str] = []

    def race(keeper: DatabaseLeases) -> None:
        start.wait()
        if keeper.hold("ticket-maintenance", 30):
            won.append(keeper.holder)

    threads = [threading.Thread(target=race, args=(k,)) for k in keepers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(won) == 1
    assert [k.hold("ticket-maintenance", 30) for k in keepers].count(True) == 1


def test_an_unreachable_database_holds_nothing(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/t.db")
    keeper = DatabaseLeases(database, "replica-a")
    database.engine.dispose()
    (tmp_path / "t.db").unlink()
    (tmp_path / "t.db").mkdir()  # the file is gone and cannot be created: every statement fails
    assert not keeper.hold("outbox", 30)
