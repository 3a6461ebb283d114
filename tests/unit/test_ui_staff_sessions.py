"""Staff sessions end after their lifetime or an idle time, and behave as Gradio expects of its token table."""

from __future__ import annotations

from ui.staff_sessions import StaffSessions

HOUR = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_session_ends_after_its_lifetime_even_when_in_use() -> None:
    clock = Clock()
    sessions = StaffSessions(lifetime_seconds=12 * HOUR, idle_seconds=HOUR, clock=clock)
    sessions["token-siti"] = "siti"
    for _ in range(23):
        clock.now += HOUR / 2
        assert sessions.get("token-siti") == "siti"
    clock.now += HOUR / 2
    assert sessions.get("token-siti") is None and "token-siti" not in sessions and len(sessions) == 0


def test_a_session_unused_for_the_idle_time_ends() -> None:
    clock = Clock()
    sessions = StaffSessions(lifetime_seconds=12 * HOUR, idle_seconds=HOUR, clock=clock)
    sessions["token-siti"] = "siti"
    clock.now = HOUR - 1
    assert "token-siti" in sessions  # a use keeps it alive…
    clock.now = 2 * HOUR - 2
    assert sessions["token-siti"] == "siti"
    clock.now = 3 * HOUR
    assert sessions.get("token-siti") is None  # …an hour without one ends it


def test_gradio_reads_it_like_its_dict_and_logging_out_ends_every_session_of_the_user() -> None:
    clock = Clock()
    sessions = StaffSessions(lifetime_seconds=HOUR, idle_seconds=HOUR, clock=clock)
    sessions["a"], sessions["b"], sessions["c"] = "siti", "siti", "budi"
    assert sessions.get(None) is None  # type: ignore[call-overload]  # Gradio looks up a missing cookie as None
    assert sorted(sessions) == ["a", "b", "c"]
    sessions.forget_user("siti")
    assert dict(sessions) == {"c": "budi"}
    del sessions["c"]
    assert len(sessions) == 0


def test_expired_sessions_are_swept_at_each_login() -> None:
    clock = Clock()
    sessions = StaffSessions(lifetime_seconds=HOUR, idle_seconds=HOUR, clock=clock)
    for n in range(100):
        sessions[f"old-{n}"] = "siti"
    clock.now = 2 * HOUR
    sessions["new"] = "siti"
    assert sessions._sessions.keys() == {"new"}
