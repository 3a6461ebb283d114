"""Staff logins: bcrypt hashes from settings, roles, lock-out after repeated failures, `tanya hash-password`."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import bcrypt
import gradio as gr
import pytest

from bot.cli import main
from ui.staff_accounts import ANALYST, EDITOR, MAX_FAILURES, OFFICER, StaffAccounts, hash_password

SITI = hash_password("kata-sandi-siti")


def test_passwords_are_checked_against_bcrypt_hashes() -> None:
    accounts = StaffAccounts({"siti": SITI})
    assert accounts.configured
    assert accounts.verify("siti", "kata-sandi-siti")
    assert not accounts.verify("siti", "kata-sandi-salah")
    assert not accounts.verify("tamu", "kata-sandi-siti")
    assert not StaffAccounts({}).configured and not StaffAccounts({}).verify("siti", "kata-sandi-siti")
    assert not StaffAccounts({"rusak": "bukan-hash"}).verify("rusak", "apa saja")


def test_repeated_failures_lock_the_name_even_for_the_right_password() -> None:
    accounts = StaffAccounts({"siti": SITI})
    for _ in range(MAX_FAILURES):
        assert not accounts.verify("siti", "tebakan")
    assert not accounts.verify("siti", "kata-sandi-siti")


def test_roles_come_from_settings_and_default_to_every_area() -> None:
    accounts = StaffAccounts({"siti": SITI, "budi": SITI}, {"budi": ["officer", "bogus"]})
    assert accounts.roles_of("siti") == {OFFICER, EDITOR, ANALYST}
    assert accounts.roles_of("budi") == {OFFICER}
    assert accounts.roles_of("tamu") == frozenset() and accounts.roles_of(None) == frozenset()
    budi = SimpleNamespace(username="budi")
    assert accounts.require(budi, OFFICER) == "budi"  # type: ignore[arg-type]
    with pytest.raises(gr.Error, match="Access denied: needs the editor role"):
        accounts.require(budi, EDITOR)  # type: ignore[arg-type]
    with pytest.raises(gr.Error):
        accounts.require(None, OFFICER)


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
