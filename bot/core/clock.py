"""The one clock of stored times: naive UTC, as every table keeps its timestamps."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
