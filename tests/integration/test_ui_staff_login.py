"""Installing the staff login on a mounted staff app: its sessions expire, and accounts without a role are named."""

from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr
import pytest
from fastapi import FastAPI
from support.workspace import make_settings

from bot.services.staff_accounts import StaffAccounts, hash_password
from ui.staff_login import install_staff_login, mounted_gradio_app, session_cookies
from ui.staff_sessions import StaffSessions


def test_the_mounted_staff_app_gets_expiring_sessions_and_roleless_accounts_are_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, web_session_hours=2, web_session_idle_minutes=15)
    hashed = hash_password("kata-sandi-siti")
    accounts = StaffAccounts({"siti": hashed, "budi": hashed, "eka": hashed}, {"eka": ["editor"]})
    app = FastAPI()
    with gr.Blocks() as staff:
        gr.Markdown("staf")
    gr.mount_gradio_app(app, staff, path="/staff", auth=accounts.verify)
    with caplog.at_level(logging.WARNING, logger="ui.staff_login"):
        install_staff_login(app, staff, accounts, settings)
    gradio_app = mounted_gradio_app(app, staff)
    sessions = gradio_app.tokens
    assert isinstance(sessions, StaffSessions)
    assert (sessions.lifetime_seconds, sessions.idle_seconds) == (2 * 3600, 15 * 60)
    assert session_cookies(gradio_app) == (
        f"access-token-{gradio_app.cookie_id}",
        f"access-token-unsecure-{gradio_app.cookie_id}",
    )
    assert "without a role" in caplog.text and "budi, siti" in caplog.text and "eka" not in caplog.text
    with gr.Blocks() as elsewhere, pytest.raises(LookupError):
        mounted_gradio_app(app, elsewhere)
