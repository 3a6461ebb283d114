"""Backoff for staff logins, per client address and per (user name, address).

Guessing from one address slows down exponentially, but nobody can keep an officer out from another address: there
is no lock on a user name alone. Attempts refused during a backoff cost no bcrypt time; the tables forget quiet
entries and never grow past a fixed size, whatever names and addresses are thrown at them.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

# Failures allowed before the backoff starts: a few typos per name, more per address (an office behind one NAT).
FREE_FAILURES_PER_NAME = 3
FREE_FAILURES_PER_ADDRESS = 10
FIRST_BACKOFF_SECONDS = 1.0  # then doubled at every further failure
MAX_BACKOFF_SECONDS = 300.0
# An entry with no failure for this long is forgotten; longer than the longest backoff, so none is cut short.
FAILURE_WINDOW_SECONDS = 900.0
MAX_ENTRIES = 10_000  # per table; the oldest entries go first
MAX_NAME_CHARS = 64  # a user name is only a key here; a megabyte-long one must not cost a megabyte


def backoff_seconds(failures: int, free: int) -> float:
    """How long after the last failure the next attempt must wait: nothing for the free ones, then 1 s, 2 s, 4 s…"""
    if failures < free:
        return 0.0
    return min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** min(failures - free, 32))


@dataclass
class _Failures:
    count: int
    last: float


class _FailureTable:
    """Failures by key, oldest first, so forgetting old entries and evicting at the cap are both cheap."""

    def __init__(self, free: int, max_entries: int) -> None:
        self._free = free
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, _Failures] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def waiting(self, key: Hashable, now: float) -> bool:
        failures = self._entries.get(key)
        return failures is not None and now < failures.last + backoff_seconds(failures.count, self._free)

    def fail(self, key: Hashable, now: float) -> None:
        failures = self._entries.setdefault(key, _Failures(0, now))
        failures.count += 1
        self.touch(key, now)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def touch(self, key: Hashable, now: float) -> None:
        failures = self._entries.get(key)
        if failures is not None:
            failures.last = now
            self._entries.move_to_end(key)

    def forgive_one(self, key: Hashable) -> None:
        failures = self._entries.get(key)
        if failures is not None:
            failures.count -= 1
            if failures.count <= 0:
                del self._entries[key]

    def forget(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def forget_older_than(self, cutoff: float) -> None:
        while self._entries:
            key, failures = next(iter(self._entries.items()))
            if failures.last >= cutoff:
                return
            del self._entries[key]


class LoginThrottle:
    """Decides whether a login attempt may be checked now, from the failures of its address and of its name there.

    An attempt counts as a failure from the moment it is let through (`begin`) until `succeeded` says otherwise,
    so a burst of parallel guesses gets only the free attempts checked, not one per request.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = MAX_ENTRIES) -> None:
        self._clock = clock
        self._by_address = _FailureTable(FREE_FAILURES_PER_ADDRESS, max_entries)
        self._by_name = _FailureTable(FREE_FAILURES_PER_NAME, max_entries)
        self._lock = threading.Lock()

    @property
    def entries(self) -> int:
        """How many addresses and (name, address) pairs are remembered (memory stays bounded)."""
        return len(self._by_address) + len(self._by_name)

    def begin(self, user: str, address: str) -> bool:
        """True when this attempt may be checked now; False while its address or its name there is backing off."""
        name = (user[:MAX_NAME_CHARS], address)
        with self._lock:
            now = self._clock()
            self._by_address.forget_older_than(now - FAILURE_WINDOW_SECONDS)
            self._by_name.forget_older_than(now - FAILURE_WINDOW_SECONDS)
            if self._by_address.waiting(address, now) or self._by_name.waiting(name, now):
                return False
            self._by_address.fail(address, now)
            self._by_name.fail(name, now)
            return True

    def failed(self, user: str, address: str) -> None:
        """The checked attempt was wrong: the backoff runs from now, the end of the (slow) check."""
        with self._lock:
            now = self._clock()
            self._by_address.touch(address, now)
            self._by_name.touch((user[:MAX_NAME_CHARS], address), now)

    def succeeded(self, user: str, address: str) -> None:
        """The checked attempt was right: the name starts afresh there, and the address loses this one failure.

        The address keeps its earlier failures, or a guesser with an account of their own could clear their
        address's backoff by logging in between guesses.
        """
        with self._lock:
            self._by_address.forgive_one(address)
            self._by_name.forget((user[:MAX_NAME_CHARS], address))
