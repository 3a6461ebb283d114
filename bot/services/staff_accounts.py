"""Staff logins for the officer, editor and analytics areas: bcrypt hashes and roles from settings.

There is no default account: until TANYA_WEB_USERS is set nobody can log in, and the staff page says so. Roles fail
closed: a user TANYA_WEB_ROLES does not list may log in but uses no area. The web app's check of a request is
`ui.staff_access`; this module knows no channel (the CLI's `hash-password` uses it too).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from enum import StrEnum
from functools import cache

import bcrypt

from bot.services.login_throttle import LoginThrottle
from bot.settings import Settings


class StaffRole(StrEnum):
    """What a staff login may see on the staff page (given with each account in the environment)."""

    OFFICER = "officer"
    EDITOR = "editor"
    ANALYST = "analyst"


OFFICER, EDITOR, ANALYST = StaffRole.OFFICER, StaffRole.EDITOR, StaffRole.ANALYST
ROLES = tuple(StaffRole)
ROLE_LABELS = {OFFICER: "petugas / officer", EDITOR: "editor", ANALYST: "analis / analyst"}
MIN_PASSWORD_LENGTH = 10
# bcrypt (rounds=12, ~0.3 s of CPU) runs in these threads, never on the event loop; two at most, so a flood of
# logins cannot take every core from the chat.
BCRYPT_THREADS = 2
UNKNOWN_ADDRESS = "unknown"

# The client address of the login being checked: Gradio's login route does not pass its request to the check, so
# the staff login middleware (ui/staff_login.py) sets this for every staff request.
CLIENT_ADDRESS: ContextVar[str] = ContextVar("staff_login_client_address", default=UNKNOWN_ADDRESS)


@cache
def _dummy_hash() -> bytes:
    # Checked against when the user name is unknown, so a wrong name costs as much time as a wrong password.
    return bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(rounds=12))


@cache
def _bcrypt_workers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=BCRYPT_THREADS, thread_name_prefix="tanya-bcrypt")


def hash_password(password: str) -> str:
    """A bcrypt hash of `password`, as TANYA_WEB_USERS expects it."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12)).decode()


class StaffAccounts:
    """Checks staff passwords against bcrypt hashes and says which areas each user may use."""

    def __init__(
        self, users: dict[str, str], roles: dict[str, list[str]] | None = None, throttle: LoginThrottle | None = None
    ) -> None:
        self._hashes = {name: hashed.encode() for name, hashed in users.items()}
        self._roles = {name: frozenset(r for r in listed if r in ROLES) for name, listed in (roles or {}).items()}
        self._throttle = throttle or LoginThrottle()

    @classmethod
    def from_settings(cls, settings: Settings) -> StaffAccounts:
        return cls(settings.web.users, settings.web.roles)

    @property
    def configured(self) -> bool:
        """True when at least one staff account exists."""
        return bool(self._hashes)

    def users_without_roles(self) -> list[str]:
        """Accounts that can log in but use no area (TANYA_WEB_ROLES does not list them, or lists no known role)."""
        return sorted(name for name in self._hashes if not self.roles_of(name))

    async def verify(self, user: str, password: str) -> bool:
        """Gradio's login check (its login route awaits it): refused at once while the client address or this name
        there is backing off, otherwise bcrypt in a worker thread, so the event loop keeps serving meanwhile."""
        address = CLIENT_ADDRESS.get()
        if not self._throttle.begin(user, address):
            return False
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(_bcrypt_workers(), self.password_matches, user, password)
        if ok:
            self._throttle.succeeded(user, address)
        else:
            self._throttle.failed(user, address)
        return ok

    def password_matches(self, user: str, password: str) -> bool:
        """The bcrypt check itself (slow on purpose), as long for an unknown name as for a wrong password."""
        hashed = self._hashes.get(user)
        try:
            return bcrypt.checkpw(password.encode(), hashed or _dummy_hash()) and hashed is not None
        except ValueError:  # a malformed hash in the settings, or a password over bcrypt's 72 bytes
            return False

    def roles_of(self, user: str | None) -> frozenset[str]:
        """The areas `user` may use: those TANYA_WEB_ROLES lists for them, none when it lists them not."""
        if not user or user not in self._hashes:
            return frozenset()
        return self._roles.get(user, frozenset())
