"""When officers are at work, and when the next shift starts (for honest after-hours handoffs)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.settings import Settings


class BusinessHours:
    """Officers work every day from `start` to `end` o'clock in `timezone`."""

    def __init__(self, settings: Settings) -> None:
        self.zone = ZoneInfo(settings.office.timezone)
        self.start = settings.office.start
        self.end = settings.office.end

    def local(self, now: datetime | None = None) -> datetime:
        return (now or datetime.now(self.zone)).astimezone(self.zone)

    def is_open(self, now: datetime | None = None) -> bool:
        return self.start <= self.local(now).hour < self.end

    def next_opening(self, now: datetime | None = None) -> datetime:
        """The next time officers start work (today or tomorrow)."""
        local = self.local(now)
        opening = local.replace(hour=self.start, minute=0, second=0, microsecond=0)
        return opening if local < opening else opening + timedelta(days=1)

    def zone_label(self) -> str:
        return {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}.get(
            str(self.zone), str(self.zone)
        )
