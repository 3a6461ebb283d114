"""Staff logins: bcrypt hashes from settings, roles that fail closed, the throttled check off the event loop,
`tanya hash-password`."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from types import SimpleNamespace

import bcrypt
import gradio as gr
import pytest

from bot.app.cli import main
from bot.services.login_throttle import FREE_FAILURES_PER_NAME
from bot.services.staff_accounts import ANALYST, CLIENT_ADDRESS, EDITOR, OFFICER, StaffAccounts, hash_password
from ui.staff_access import require

SITI = hash_password("kata-sandi-siti")


def verify(accounts: StaffAccounts, user: str, password: str, address: str = "10.0.0.1") -> bool:
    """Gradio's login check as its login route runs it: awaited, with the client address the middleware sets."""

    async def check() -> bool:
        CLIENT_ADDRESS.set(address)
        return await accounts.verify(user, password)

    return asyncio.run(check())


def test_passwords_are_checked_against_bcrypt_hashes() -> None:
    accounts = StaffAccounts({"siti": SITI})
    assert accounts.configured
    assert verify(accounts, "siti", "kata-sandi-siti")
    assert not verify(accounts, "siti", "kata-sandi-salah")
    assert not verify(accounts, "tamu", "kata-sandi-siti")
    assert not StaffAccounts({}).configured and not verify(StaffAccounts({}), "siti", "kata-sandi-siti")
    assert not verify(StaffAccounts({"rusak": "bukan-hash"}), "rusak", "apa saja")
    assert not verify(accounts, "siti", "x" * 100)  # over bcrypt's 72 bytes: refused, not an error


def test_an_unknown_name_costs_as_much_time_as_a_wrong_password() -> None:
    accounts = StaffAccounts({"siti": SITI})
    accounts.password_matches("tamu", "pemanasan")  # the stand-in hash is made once, on first use

    def seconds(user: str) -> float:  # the fastest of three, so a busy machine does not decide the test
        times = []
        for _ in range(3):
            started = time.perf_counter()
            assert not accounts.password_matches(user, "tebakan")
            times.append(time.perf_counter() - started)
        return min(times)

    wrong_password, unknown_name = seconds("siti"), seconds("tamu")
    assert 0.5 < unknown_name / wrong_password < 2


def test_bcrypt_runs_off_the_event_loop() -> None:
    accounts = StaffAccounts({"siti": SITI})
    threads: list[str] = []
    checkpw = bcrypt.checkpw

    def recording_checkpw(password: bytes, hashed: bytes) -> bool:
        threads.append(threading.current_thread().name)
        return checkpw(password, hashed)

    async def login_while_the_loop_ticks() -> tuple[bool, int]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        CLIENT_ADDRESS.set("10.0.0.1")
        ok = await accounts.verify("siti", "kata-sandi-siti")
        ticker.cancel()
        return ok, ticks

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bcrypt, "checkpw", recording_checkpw)
        ok, ticks = asyncio.run(login_while_the_loop_ticks())
    assert ok and threads and all(name.startswith("tanya-bcrypt") for name in threads)
    assert ticks >= 5  # the loop kept running during the ~0.3 s check


def test_failures_slow_down_the_address_and_name_they_come_from_only() -> None:
    accounts = StaffAccounts({"siti": SITI})
    for _ in range(FREE_FAILURES_PER_NAME):
        assert not verify(accounts, "siti", "tebakan", "10.0.0.66")
    assert not verify(accounts, "siti", "kata-sandi-siti", "10.0.0.66")  # backing off, even for the right one
    assert verify(accounts, "siti", "kata-sandi-siti", "10.0.0.1")  # the officer's own desk is not locked out


def test_roles_come_from_settings_and_fail_closed() -> None:
    accounts = StaffAccounts(
        {"siti": SITI, "budi": SITI, "eka": SITI}, {"budi": ["officer", "bogus"], "eka": ["bogus"]}
    )
    assert accounts.roles_of("siti") == frozenset()  # not listed: no role, not every role
    assert accounts.roles_of("eka") == frozenset()
    assert accounts.roles_of("budi") == {OFFICER}
    assert accounts.users_without_roles() == ["eka", "siti"]
    assert accounts.roles_of("tamu") == frozenset() and accounts.roles_of(None) == frozenset()
    assert StaffAccounts({"siti": SITI}, {"siti": [OFFICER, EDITOR, ANALYST]}).roles_of("siti") == {
        OFFICER,
        EDITOR,
        ANALYST,
    }
    budi = SimpleNamespace(username="budi")
    assert require(accounts, budi, OFFICER) == "budi"  # type: ignore[arg-type]
    with pytest.raises(gr.Error, match="Access denied: needs the editor role"):
        require(accounts, budi, EDITOR)  # type: ignore[arg-type]
    with pytest.raises(gr.Error, match="Access denied"):
        require(accounts, SimpleNamespace(username="siti"), OFFICER)  # type: ignore[arg-type]
    with pytest.raises(gr.Error):
        require(accounts, None, OFFICER)


def test_hash_password_prints_a_hash_for_the_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("kata-sandi-panjang\n"))
    assert main(["hash-password", "--user", "siti"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert list(printed) == ["siti"]
    assert bcrypt.checkpw(b"kata-sandi-panjang", printed["siti"].encode())


def test_hash_password_refuses_short_passwords(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("pendek\n"))
    assert main(["hash-password"]) == 1
    assert "at least 10 characters" in capsys.readouterr().err
