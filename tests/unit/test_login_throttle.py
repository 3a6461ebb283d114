"""The login throttle with a clock the test moves: free failures, doubling backoff, no lock from another address,
a burst of parallel guesses gets only the free ones checked, and the tables stay bounded."""

from __future__ import annotations

import pytest

from bot.services.login_throttle import (
    FAILURE_WINDOW_SECONDS,
    FIRST_BACKOFF_SECONDS,
    FREE_FAILURES_PER_ADDRESS,
    FREE_FAILURES_PER_NAME,
    MAX_BACKOFF_SECONDS,
    LoginThrottle,
    backoff_seconds,
)

ATTACKER = "203.0.113.9"
DESK = "10.0.0.1"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def fail(throttle: LoginThrottle, user: str, address: str) -> bool:
    """One wrong password, as the login check reports it; False when it was refused without a check."""
    if not throttle.begin(user, address):
        return False
    throttle.failed(user, address)
    return True


def test_backoff_doubles_after_the_free_failures_up_to_a_cap() -> None:
    free = FREE_FAILURES_PER_NAME
    assert [backoff_seconds(n, free) for n in range(free)] == [0.0] * free
    assert [backoff_seconds(free + n, free) for n in range(4)] == [FIRST_BACKOFF_SECONDS * 2**n for n in range(4)]
    assert backoff_seconds(10_000, free) == MAX_BACKOFF_SECONDS


def test_a_name_backs_off_from_one_address_and_not_from_another(clock: Clock) -> None:
    throttle = LoginThrottle(clock)
    for _ in range(FREE_FAILURES_PER_NAME):
        assert fail(throttle, "siti", ATTACKER)
    assert not throttle.begin("siti", ATTACKER)  # even the right password is not checked now
    assert throttle.begin("siti", DESK)  # the officer at her own desk is checked at once
    throttle.succeeded("siti", DESK)
    clock.advance(FIRST_BACKOFF_SECONDS)
    assert fail(throttle, "siti", ATTACKER)  # one more try after the backoff…
    clock.advance(FIRST_BACKOFF_SECONDS)
    assert not throttle.begin("siti", ATTACKER)  # …and the next wait is twice as long
    clock.advance(FIRST_BACKOFF_SECONDS)
    assert throttle.begin("siti", ATTACKER)


def test_refused_attempts_do_not_lengthen_the_backoff(clock: Clock) -> None:
    throttle = LoginThrottle(clock)
    for _ in range(FREE_FAILURES_PER_NAME):
        fail(throttle, "siti", ATTACKER)
    for _ in range(50):
        assert not throttle.begin("siti", ATTACKER)
    clock.advance(FIRST_BACKOFF_SECONDS)
    assert throttle.begin("siti", ATTACKER)


def test_an_address_guessing_many_names_backs_off_for_every_name(clock: Clock) -> None:
    throttle = LoginThrottle(clock)
    for n in range(FREE_FAILURES_PER_ADDRESS):
        assert fail(throttle, f"nama-{n}", ATTACKER)
    assert not throttle.begin("nama-baru", ATTACKER)
    assert not throttle.begin("siti", ATTACKER)
    assert throttle.begin("siti", DESK)


def test_a_burst_of_parallel_guesses_gets_only_the_free_ones_checked(clock: Clock) -> None:
    throttle = LoginThrottle(clock)
    # All begin before any check ends: an attempt counts as a failure from the moment it is let through.
    let_through = sum(throttle.begin(f"nama-{n}", ATTACKER) for n in range(100))
    assert let_through == FREE_FAILURES_PER_ADDRESS
    assert sum(throttle.begin("siti", ATTACKER) for _ in range(100)) == 0


def test_the_backoff_runs_from_the_end_of_the_check(clock: Clock) -> None:
    throttle = LoginThrottle(clock)
    for _ in range(FREE_FAILURES_PER_NAME):
        assert throttle.begin("siti", ATTACKER)
        clock.advance(5.0)  # a slow check
        throttle.failed("siti", ATTACKER)
    assert not throttle.begin("siti", ATTACKER)


def test_a_right_password_clears_the_name_but_not_the_address(clock: Clock) -> None:
    throttle = LoginThrottle(clock)
    for _ in range(FREE_FAILURES_PER_NAME - 1):
        fail(throttle, "siti", DESK)
    assert throttle.begin("siti", DESK)
    throttle.succeeded("siti", DESK)
    for _ in range(FREE_FAILURES_PER_NAME - 1):
        assert fail(throttle, "siti", DESK)  # the name starts afresh after a login
    # A guesser with an account of their own cannot clear their address's failures by logging in between guesses.
    for n in range(FREE_FAILURES_PER_ADDRESS - 1):
        fail(throttle, f"nama-{n}", ATTACKER)
    assert throttle.begin("budi", ATTACKER)
    throttle.succeeded("budi", ATTACKER)
    assert fail(throttle, "nama-terakhir", ATTACKER)  # the last free failure, not a fresh set of them
    assert not throttle.begin("nama-lain", ATTACKER)


def test_quiet_entries_are_forgotten_and_the_tables_stay_bounded(clock: Clock) -> None:
    throttle = LoginThrottle(clock, max_entries=100)
    for n in range(1000):
        fail(throttle, f"nama-{n}" + "x" * 10_000, f"198.51.{n // 250}.{n % 250}")
    assert throttle.entries <= 200
    clock.advance(FAILURE_WINDOW_SECONDS + 1)
    throttle.begin("siti", DESK)
    assert throttle.entries == 2  # only the attempt just let through
    for _ in range(FREE_FAILURES_PER_NAME):
        fail(throttle, "siti", ATTACKER)
    clock.advance(FAILURE_WINDOW_SECONDS + 1)
    assert throttle.begin("siti", ATTACKER)  # forgotten after a quiet window, not locked for ever
