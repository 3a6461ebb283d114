"""Officer hours and the next opening, in the operator's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from support.workspace import make_settings

from bot.core.business_hours import BusinessHours


def hours(tmp_path: Path) -> BusinessHours:
    return BusinessHours(make_settings(tmp_path))


def test_open_during_the_day_in_jakarta(tmp_path: Path) -> None:
    # 03:00 UTC is 10:00 WIB.
    assert hours(tmp_path).is_open(datetime(2026, 11, 23, 3, 0, tzinfo=UTC))


def test_closed_at_night_and_opens_next_morning(tmp_path: Path) -> None:
    night = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # 22:30 WIB
    business = hours(tmp_path)
    assert not business.is_open(night)
    opening = business.next_opening(night)
    assert (opening.day, opening.hour, opening.minute) == (24, 8, 0)


def test_before_opening_the_same_day(tmp_path: Path) -> None:
    early = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)  # 06:00 WIB on the 23rd
    opening = hours(tmp_path).next_opening(early)
    assert (opening.day, opening.hour) == (23, 8)
