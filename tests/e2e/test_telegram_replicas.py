"""Telegram in webhook mode across two replicas over one PostgreSQL: every update posted to both replicas' webhooks
(a proxy's retry reaching the other one) is answered once, and only one replica sends."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from support.cli import KB_FILES, write_kb
from support.fake_bot_api import BOT_ID, FakeBotApi, FakeUser
from support.servers import new_database
from support.web_server import free_port
from support.workspace import build_index, make_settings

from bot.app.runtime import open_runtime
from bot.services.runtime import Runtime
from bot.settings import BUNDLED_MODEL
from bot.telegram.channel_store import TelegramChannelStore
from bot.telegram.runner import TelegramRunner

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

TOKEN = "123456789:TEST-replicas-token-Tanya-0123456789ab"
SECRET = "replicas-webhook-secret_7"
CHATS = 10
QUESTIONS = ("Bagaimana cara cek sisa pulsa?", "gmn cek pulsa", "cara roaming ke luar negeri")
UPDATES_PER_CHAT = len(QUESTIONS)


@pytest.fixture
def replicas(postgres_url: str, tmp_path: Path) -> Iterator[tuple[FakeBotApi, list[Runtime], list[str]]]:
    """Two runtimes (engines over one index, one PostgreSQL database), each with its bot in webhook mode."""
    write_kb(tmp_path, dict(KB_FILES))
    build_index(make_settings(tmp_path, embedding_model=BUNDLED_MODEL), tmp_path / "kb")
    database_url = new_database(postgres_url, "telegram_replicas")
    with ExitStack() as stack:
        api = stack.enter_context(FakeBotApi(TOKEN))
        runtimes, hooks = [], []
        for _ in range(2):
            port = free_port()
            hooks.append(f"http://127.0.0.1:{port}/hook")
            settings = make_settings(
                tmp_path,
                embedding_model=BUNDLED_MODEL,
                database_url=database_url,
                telegram_bot_token=SecretStr(TOKEN),
                telegram_base_url=api.base_url,
                telegram_webhook_url=hooks[-1],
                telegram_webhook_secret=SecretStr(SECRET),
                telegram_webhook_listen="127.0.0.1",
                telegram_webhook_port=port,
            )
            runtime = open_runtime(settings, writable=False)  # both read the one embedded index
            stack.callback(runtime.close)
            runtimes.append(runtime)
        for runtime in runtimes:
            runner = TelegramRunner(runtime)
            runner.start(timeout=30)
            stack.callback(runner.stop)
        yield api, runtimes, hooks


def post(hook: str, update: dict[str, object]) -> int:
    with httpx.Client(trust_env=False, timeout=30) as client:
        return client.post(hook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}).status_code


def test_each_update_posted_to_both_replicas_is_answered_once(
    replicas: tuple[FakeBotApi, list[Runtime], list[str]],
) -> None:
    api, runtimes, hooks = replicas
    customers = [FakeUser(300_001 + n, f"Pelanggan{n}") for n in range(CHATS)]
    updates = [api.message_update(c, question) for c in customers for question in QUESTIONS]
    statuses: list[int] = []

    def deliver_to(hook: str) -> None:
        statuses.extend(post(hook, update) for update in updates)

    posting = [threading.Thread(target=deliver_to, args=(hook,)) for hook in hooks]  # both at once
    for thread in posting:
        thread.start()
    for thread in posting:
        thread.join(120)
    assert statuses == [200] * (2 * len(updates))

    for customer in customers:
        api.wait_for_messages(customer.id, UPDATES_PER_CHAT, timeout=60)
    api.wait_for(lambda: all(_done(runtimes[0], u["update_id"]) for u in updates), "every update marked done")
    for customer in customers:  # a moment for a doubled reply to show
        assert len(api.sent(customer.id)) == UPDATES_PER_CHAT, customer
    for customer in customers:  # answered from the knowledge base, not with an apology
        assert all("*123" in m["text"] for m in api.sent(customer.id)), api.sent(customer.id)
    handled = {r.leases.hold("telegram-outbox", 15) for r in runtimes}  # one replica sends, the other waits
    assert handled == {True, False}


def _done(runtime: Runtime, update_id: int) -> bool:
    stored = TelegramChannelStore(runtime.database).stored_update(BOT_ID, update_id)
    return stored is not None and stored.is_done
