"""Flood control per sender (a Telegram user, a web customer, a client address): a sender over the limit is told
once, then ignored until the window has passed. Every channel uses it; the key is whatever identifies the sender."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from enum import StrEnum

# Past this many tracked users, the idle ones are forgotten (memory stays bounded on a busy bot).
_PRUNE_ABOVE = 10_000


class FloodVerdict(StrEnum):
    ALLOW = "allow"
    WARN = "warn"  # the first message over the limit: answer it with the flood notice
    IGNORE = "ignore"  # later messages while the user is held back


class FloodGuard:
    """Allows `limit` messages per user in any `window` seconds (a `limit` of 0 turns flood control off)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._recent: dict[Hashable, deque[float]] = {}
        self._held_until: dict[Hashable, float] = {}
        self._lock = threading.Lock()  # the web channel checks from several worker threads

    def check(self, user: Hashable) -> FloodVerdict:
        """Count one message from `user` and say whether to handle it."""
        if self.limit <= 0:
            return FloodVerdict.ALLOW
        with self._lock:
            return self._check(user, self._clock())

    def _check(self, user: Hashable, now: float) -> FloodVerdict:
        held_until = self._held_until.get(user)
        if held_until is not None:
            if now < held_until:
                return FloodVerdict.IGNORE
            del self._held_until[user]
            self._recent.pop(user, None)
        recent = self._recent.setdefault(user, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if len(recent) < self.limit:
            recent.append(now)
            self._prune(now)
            return FloodVerdict.ALLOW
        self._held_until[user] = now + self.window
        return FloodVerdict.WARN

    def _prune(self, now: float) -> None:
        if len(self._recent) <= _PRUNE_ABOVE:
            return
        for user in [u for u, times in self._recent.items() if not times or times[-1] <= now - self.window]:
            del self._recent[user]
        for user in [u for u, until in self._held_until.items() if until <= now]:
            del self._held_until[user]
