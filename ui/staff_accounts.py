"""Staff logins for the officer, editor and analytics areas: bcrypt hashes and roles from settings.

There is no default account: until TANYA_WEB_USERS is set nobody can log in, and the staff page says so.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from functools import cache

import bcrypt
import gradio as gr

from bot.settings import Settings

OFFICER = "officer"
EDITOR = "editor"
ANALYST = "analyst"
ROLES = (OFFICER, EDITOR, ANALYST)
ROLE_LABELS = {OFFICER: "petugas / officer", EDITOR: "editor", ANALYST: "analis / analyst"}
MIN_PASSWORD_LENGTH = 10
# Failed logins allowed per user name within the window before further attempts are refused outright.
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 300.0


@cache
def _dummy_hash() -> bytes:
    # Checked against when the user name is unknown, so a wrong name costs as much time as a wrong password.
    return bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(rounds=12))


def hash_password(password: str) -> str:
    """A bcrypt hash of `password`, as TANYA_WEB_USERS expects it."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12)).decode()


class AccessDeniedError(gr.Error):
    """The logged-in user lacks the role an action needs."""


class StaffAccounts:
    """Checks staff passwords against bcrypt hashes and says which areas each user may use."""

    def __init__(self, users: dict[str, str], roles: dict[str, list[str]] | None = None) -> None:
        self._hashes = {name: hashed.encode() for name, hashed in users.items()}
        self._roles = {name: frozenset(r for r in listed if r in ROLES) for name, listed in (roles or {}).items()}
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> StaffAccounts:
        return cls(settings.web_users, settings.web_roles)

    @property
    def configured(self) -> bool:
        """True when at least one staff account exists."""
        return bool(self._hashes)

    def verify(self, user: str, password: str) -> bool:
        """Gradio's login check: the password matches the user's hash, and the user is not locked out."""
        now = time.monotonic()
        with self._lock:
            failures = self._failures[user]
            while failures and now - failures[0] > FAILURE_WINDOW_SECONDS:
                failures.popleft()
            if len(failures) >= MAX_FAILURES:
                return False
        hashed = self._hashes.get(user)
        try:
            ok = bcrypt.checkpw(password.encode(), hashed or _dummy_hash()) and hashed is not None
        except ValueError:  # a malformed hash in the settings
            ok = False
        if not ok:
            with self._lock:
                self._failures[user].append(now)
        return ok

    def roles_of(self, user: str | None) -> frozenset[str]:
        """The areas `user` may use (every area when the settings list no roles for them)."""
        if not user or user not in self._hashes:
            return frozenset()
        return self._roles.get(user, frozenset(ROLES))

    def allows(self, request: gr.Request | None, role: str) -> bool:
        """True when the request's logged-in user has `role`."""
        return role in self.roles_of(getattr(request, "username", None) if request is not None else None)

    def require(self, request: gr.Request | None, role: str) -> str:
        """The logged-in user's name; raises AccessDeniedError when they lack `role` (every staff action checks)."""
        user = getattr(request, "username", None) if request is not None else None
        if role not in self.roles_of(user):
            raise AccessDeniedError(
                f"Akses ditolak: perlu peran {ROLE_LABELS[role]}. / Access denied: needs the {role} role."
            )
        return str(user)
