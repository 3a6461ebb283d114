"""Staff sessions that end: Gradio's login tokens, forgotten after an idle time or a lifetime.

Gradio keeps `App.tokens` (cookie token -> user name) forever; this mapping takes its place on the staff app. Gradio
only reads it with `get`, `in`, `[]` and iteration, so an expired token simply looks unknown to it (a 401).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass


@dataclass
class _Session:
    user: str
    issued: float
    seen: float


class StaffSessions(MutableMapping[str, str]):
    """Login tokens -> user names; a token ends `lifetime_seconds` after the login or `idle_seconds` after its last
    use. `clock` is public so a test can move time on in a running server."""

    def __init__(
        self, lifetime_seconds: float, idle_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.lifetime_seconds = lifetime_seconds
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()  # Gradio reads tokens from the event loop and from its worker threads

    def __setitem__(self, token: str, user: str) -> None:
        with self._lock:
            now = self.clock()
            self._forget_expired(now)  # logins are rare: the table is swept on each, so it stays small
            self._sessions[token] = _Session(user, now, now)

    def __getitem__(self, token: str) -> str:
        with self._lock:
            session = self._sessions.get(token)
            now = self.clock()
            if session is None or self._expired(session, now):
                self._sessions.pop(token, None)
                raise KeyError(token)
            session.seen = now
            return session.user

    def __delitem__(self, token: str) -> None:
        with self._lock:
            del self._sessions[token]

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            self._forget_expired(self.clock())
            return iter(list(self._sessions))

    def __len__(self) -> int:
        with self._lock:
            self._forget_expired(self.clock())
            return len(self._sessions)

    def forget_user(self, user: str) -> None:
        """End every session of `user` (logging out on one device logs out everywhere, as Gradio's logout does)."""
        with self._lock:
            for token in [t for t, s in self._sessions.items() if s.user == user]:
                del self._sessions[token]

    def _expired(self, session: _Session, now: float) -> bool:
        return now - session.issued >= self.lifetime_seconds or now - session.seen >= self.idle_seconds

    def _forget_expired(self, now: float) -> None:
        for token in [t for t, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[token]
