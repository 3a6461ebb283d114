"""The privacy bar, on a real `tanya serve` (web and Telegram) logging at DEBUG: customers write phone numbers and
NIKs in every format they use, in messages, in a handoff, in a Telegram name and in a login name; afterwards no log
line, no stored row and no post to the officers' group holds one of them unmasked, and no secret is in the log."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from support.fake_bot_api import FakeBotApi, FakeUser
from support.web_server import free_port
from support.workspace import MODEL_CACHE, TEST_MODEL

from bot.services.staff_accounts import hash_password
from evals.first_run import stop_server

pytestmark = pytest.mark.e2e

TOKEN = "123456789:TEST-privacy-token-0123456789abcdef"
WEBHOOK_SECRET = "webhook-secret-privacy-0123456789"
STATE_SECRET = "web-state-secret-privacy-0123456789"
OFFICERS_CHAT = -100_555_000
# Every value ends in its own digits, so a find names the format that leaked.
PERSONAL_NUMBERS = {
    "NIK written together": "3273123456789121",
    "NIK with dashes": "3273-1234-5678-9122",
    "NIK with dots": "3273.1234.5678.9123",
    "NIK with spaces": "3171 0123 4567 8904",
    "phone with its code in brackets": "(0812) 3456-7815",
    "phone +62 with brackets": "+62 (812) 3456 7826",
    "phone without its 0": "812-3456-7837",
    "phone written together": "081234567848",
    "phone +62 together": "+6281234567859",
    "phone with spaces": "0813 2222 3360",
    "phone with dots": "0821.4444.5571",
}
NAME_NUMBER = "0857-1111-2282"  # in a Telegram first name
LOGIN_NUMBER = "0858-3333-4493"  # typed as a staff user name


def leak_pattern(value: str) -> re.Pattern[str]:
    """Its last nine digits with anything but digits between them: it in any format, never a masked placeholder
    (which keeps two digits)."""
    digits = re.sub(r"\D", "", value)[-9:]
    return re.compile(r"\D{0,3}".join(digits))


def server_env(folder: Path, api: FakeBotApi, port: int) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("TANYA_") and k != "TELEGRAM_BOT_TOKEN"}
    env.update(
        TANYA_KB_DIR=str(folder / "kb"),
        TANYA_STORE_DIR=str(folder / "index"),
        TANYA_DATABASE_URL=f"sqlite:///{folder / 'tanya.db'}",
        TANYA_MODEL_CACHE_DIR=str(MODEL_CACHE),
        TANYA_EMBEDDING_MODEL=TEST_MODEL,
        TANYA_RETUNE_AFTER_CHANGES="0",
        TANYA_WEB_PORT=str(port),
        TANYA_WEB_STATE_SECRET=STATE_SECRET,
        TANYA_WEB_USERS=json.dumps({"budi": hash_password("petugas-budi-secret")}),
        TANYA_WEB_ROLES=json.dumps({"budi": ["officer"]}),
        TANYA_LOG_LEVEL="DEBUG",
        TANYA_FLOOD_MESSAGES="0",  # every message must reach the core, however fast the test sends them
        TELEGRAM_BOT_TOKEN=TOKEN,
        TANYA_TELEGRAM_BASE_URL=api.base_url,
        TANYA_TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        TANYA_OFFICERS_CHAT_ID=str(OFFICERS_CHAT),
        ANONYMIZED_TELEMETRY="False",
    )
    return env


def wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert server.poll() is None, f"tanya serve stopped: {log.read_text(errors='replace')[-2000:]}"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("tanya serve did not start within 180 s")


def stored_text(database: Path) -> str:
    """Every row of every table, as text."""
    with sqlite3.connect(database) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(repr(row) for t in tables for row in db.execute(f'SELECT * FROM "{t}"'))  # noqa: S608


def test_no_personal_number_or_secret_is_kept_unmasked(demo_index_template: Path, tmp_path: Path) -> None:
    from gradio_client import Client

    shutil.copytree(demo_index_template / "kb", tmp_path / "kb")
    shutil.copytree(demo_index_template / "index", tmp_path / "index")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tmp_path / "serve.log"
    with FakeBotApi(TOKEN) as api, log.open("wb") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "bot.app.cli", "serve"],
            env=server_env(tmp_path, api, port),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_up(url, server, log)
            customer = Client(url, verbose=False)
            for value in PERSONAL_NUMBERS.values():
                customer.predict(f"nomor saya {value} tidak bisa kirim sms, NIK saya sudah terdaftar", api_name="/chat")
            customer.predict(
                f"tolong hubungi saya di {PERSONAL_NUMBERS['phone with spaces']}", api_name="/talk_to_person"
            )
            customer.predict(f"NIK saya {PERSONAL_NUMBERS['NIK with dots']}", api_name="/chat")  # into the ticket
            customer.close()
            httpx.post(f"{url}staff/login", data={"username": LOGIN_NUMBER, "password": "not-the-password"})

            person = FakeUser(900_001, f"Budi {NAME_NUMBER}")
            for value in PERSONAL_NUMBERS.values():
                api.send_text(person, f"kartu {value} saya hilang, tolong blokir")
            api.send_text(person, "/human")
            last = api.send_text(person, f"nomor saya {PERSONAL_NUMBERS['phone with its code in brackets']}")
            api.wait_for(
                lambda: (
                    any(
                        c.method == "getUpdates" and int(c.params.get("offset") or 0) > last["update_id"]
                        for c in api.calls()
                    )
                    or None
                ),
                "the bot to fetch every Telegram update",
                timeout=120,
            )
            api.wait_for(
                lambda: "nomor saya [PHONE ****15]" in stored_text(tmp_path / "tanya.db") or None,
                "the last Telegram message to be stored with its ticket",
                timeout=60,
            )
        finally:
            stop_server(server)
        posted = "\n".join(json.dumps(c.params, ensure_ascii=False) for c in api.calls())

    logged = log.read_text(encoding="utf-8", errors="replace")
    stored = stored_text(tmp_path / "tanya.db")
    assert "DEBUG" in logged and "[PHONE ****" in logged  # the log is the verbose one, and numbers were seen
    assert api.sent(person.id)  # the Telegram customer was answered
    values = {**PERSONAL_NUMBERS, "Telegram name": NAME_NUMBER, "staff login name": LOGIN_NUMBER}
    leaks = [
        f"{what} ({value}) in {where}"
        for what, value in values.items()
        for where, text in (("the log", logged), ("the database", stored), ("the officers' group posts", posted))
        if leak_pattern(value).search(text)
    ]
    assert leaks == []
    for secret in (TOKEN, WEBHOOK_SECRET, STATE_SECRET):
        assert secret not in logged
