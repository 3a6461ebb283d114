"""The Telegram channel end to end: the real python-telegram-bot networking stack (polling and webhook, rate
limiter, handlers) against a fake Bot API server on 127.0.0.1, over the real model, Chroma index and database."""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from support.fake_bot_api import BOT_ID, DOCUMENT, PHOTO, STICKER, VOICE, FakeBotApi, FakeUser
from support.web_server import free_port
from support.workspace import make_settings
from telegram import User

from bot.app.runtime import open_runtime
from bot.core import phrases
from bot.core.business_hours import BusinessHours
from bot.core.messages import Question
from bot.core.tickets import Ticket
from bot.services.runtime import Runtime
from bot.settings import Settings
from bot.telegram import phrases as tg
from bot.telegram.channel_store import TelegramChannelStore
from bot.telegram.officers_group import officer_name
from bot.telegram.runner import TelegramRunner

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

TOKEN = "123456789:TEST-e2e-token-Tanya-0123456789abcdef"
OFFICERS_CHAT = -100_777_000
OFFICER = FakeUser(900_001, "Sari")
NON_OFFICER = FakeUser(900_002, "Joko")
_customer_ids = itertools.count(100_001)


def new_customer(lang: str = "id") -> FakeUser:
    """A customer no other test has used, so tickets and flood counters never cross tests."""
    number = next(_customer_ids)
    return FakeUser(number, f"Pelanggan{number}", lang)


@pytest.fixture(scope="module")
def shared_runtime(demo_index_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """One engine, index and database for the module; each test runs its own bot and fake server over it."""
    folder = tmp_path_factory.mktemp("telegram-e2e")
    shutil.copytree(demo_index_template / "kb", folder / "kb")
    shutil.copytree(demo_index_template / "index", folder / "index")
    # The calibration committed in kb/ (threshold and confidence weights), as the bot runs by default.
    runtime = open_runtime(make_settings(folder))
    yield runtime
    runtime.close()


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    with FakeBotApi(TOKEN) as server:
        yield server


def with_bot_settings(runtime: Runtime, api: FakeBotApi, **overrides: Any) -> Runtime:
    """The runtime with the Telegram settings pointing at the fake server (engine and database unchanged)."""
    updates: dict[str, Any] = {
        "telegram_bot_token": SecretStr(TOKEN),
        "telegram_base_url": api.base_url,
        "officers_chat_id": OFFICERS_CHAT,
        "officer_ids": [OFFICER.id],
        **overrides,
    }
    return dataclasses.replace(runtime, settings=runtime.settings.replaced(**updates))


@contextmanager
def running(runtime: Runtime) -> Iterator[TelegramRunner]:
    runner = TelegramRunner(runtime)
    runner.start(timeout=30)
    try:
        yield runner
    finally:
        runner.stop()


@pytest.fixture
def bot(shared_runtime: Runtime, api: FakeBotApi) -> Iterator[Runtime]:
    """A bot running (long polling) against the fake server; yields its runtime."""
    runtime = with_bot_settings(shared_runtime, api)
    with running(runtime):
        yield runtime


# --- helpers ------------------------------------------------------------------------------------------
def exchange(api: FakeBotApi, user: FakeUser, text: str, replies: int = 1) -> list[dict[str, Any]]:
    """The customer types `text`; returns the bot's `replies` new messages to them."""
    before = len(api.sent(user.id))
    api.send_text(user, text)
    return api.wait_for_messages(user.id, before + replies)[before:]


def group_post(api: FakeBotApi, needle: str, after: int = 0) -> dict[str, Any]:
    """The first bot message in the officers' group (from index `after`) containing `needle`."""
    return api.wait_for(
        lambda: next((m for m in api.sent(OFFICERS_CHAT)[after:] if needle in m["text"]), None),
        f"a post containing {needle!r} in the officers' group",
    )


def open_ticket_via_human(api: FakeBotApi, runtime: Runtime, user: FakeUser) -> tuple[Ticket, dict[str, Any]]:
    """The customer sends /human; returns their open ticket and its post in the officers' group."""
    exchange(api, user, "/human")
    ticket = runtime.handoffs.find_open("telegram", str(user.id))
    assert ticket is not None
    return ticket, group_post(api, f"Tiket #{ticket.id} ")


def officer_says(api: FakeBotApi, officer: FakeUser, text: str, post: dict[str, Any]) -> None:
    api.send_text(officer, text, chat_id=OFFICERS_CHAT, reply_to=post)


def wait_until_handled(api: FakeBotApi, runtime: Runtime, update: dict[str, Any]) -> None:
    """Wait until the bot has marked `update` done in its inbox."""
    store = TelegramChannelStore(runtime.database)

    def handled() -> bool:
        stored = store.stored_update(BOT_ID, update["update_id"])
        return stored is not None and stored.is_done

    api.wait_for(handled, f"update {update['update_id']} to be handled")


def callback_data(message: dict[str, Any]) -> list[str]:
    return [b["callback_data"] for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row]


# --- customers ----------------------------------------------------------------------------------------
def test_routine_question_is_answered_with_its_source_and_feedback_is_stored(bot: Runtime, api: FakeBotApi) -> None:
    user = new_customer()
    question = "Bagaimana cara cek pulsa?"
    expected = bot.engine.answer(Question(question, channel="telegram"))
    assert expected.outcome == "answer" and expected.source is not None

    [answer] = exchange(api, user, question)

    assert expected.text in answer["text"]
    assert f"{phrases.SOURCE_LABEL['id']}: " in answer["text"] and f"({expected.source.ref})" in answer["text"]
    helpful, not_helpful, person = callback_data(answer)
    assert helpful.startswith("fb:1:") and not_helpful.startswith("fb:0:") and person == "person"

    api.press(user, answer, helpful)
    api.wait_for(lambda: api.calls("editMessageReplyMarkup"), "the feedback buttons to be replaced")
    assert api.calls("answerCallbackQuery")[-1].params["text"] == tg.FEEDBACK_THANKS["id"]
    assert callback_data(api.sent(user.id)[-1]) == ["person"]
    interaction_id = int(helpful.rsplit(":", 1)[1])
    stored = next(i for i in bot.interactions.interactions(limit=50) if i.id == interaction_id)
    assert stored.helpful is True and stored.source == expected.source.ref


def test_start_and_help_greet_in_the_users_language(bot: Runtime, api: FakeBotApi) -> None:
    indonesian, english = new_customer("id"), new_customer("en-GB")
    [greeting_id] = exchange(api, indonesian, "/start")
    [greeting_en] = exchange(api, english, "/help")
    assert greeting_id["text"] == tg.welcome("id")
    assert greeting_en["text"] == tg.welcome("en")
    assert "/human" in greeting_en["text"] and "can't" in greeting_en["text"]


def test_privacy_request_is_refused_without_a_ticket(bot: Runtime, api: FakeBotApi) -> None:
    user = new_customer()
    [reply] = exchange(api, user, "siapa pemilik nomor 081234567890?")
    assert reply["text"] == phrases.REFUSE["id"]
    assert callback_data(reply) == []
    assert bot.handoffs.find_open("telegram", str(user.id)) is None


def test_human_command_opens_a_ticket_posted_to_the_officers_group(bot: Runtime, api: FakeBotApi) -> None:
    user = new_customer()
    exchange(api, user, "Bagaimana cara cek kuota?")
    [reply] = exchange(api, user, "/human")

    assert reply["text"].startswith(phrases.HANDOFF_OPENING["asked_for_person"]["id"])
    ticket = bot.handoffs.find_open("telegram", str(user.id))
    assert ticket is not None and ticket.reason == "asked_for_person"
    post = group_post(api, f"Tiket #{ticket.id} ")
    assert user.first_name in post["text"] and "Bagaimana cara cek kuota?" in post["text"]  # the recent conversation


def test_angry_message_opens_a_ticket_posted_to_the_officers_group(bot: Runtime, api: FakeBotApi) -> None:
    user = new_customer()
    [reply] = exchange(api, user, "Saya kecewa sekali, pelayanan kalian parah!!!")

    assert reply["text"].startswith(phrases.HANDOFF_OPENING["angry"]["id"])
    ticket = bot.handoffs.find_open("telegram", str(user.id))
    assert ticket is not None and ticket.reason == "angry"
    assert "pelayanan kalian parah" in group_post(api, f"Tiket #{ticket.id} ")["text"]


def test_after_hours_handoff_says_when_an_officer_will_answer(
    shared_runtime: Runtime, api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    hours = shared_runtime.engine.hours
    now = hours.local().hour
    start = now + 2 if now < 21 else 1  # a one-hour shift that is not now
    closed = BusinessHours(shared_runtime.settings.replaced(business_hours_start=start, business_hours_end=start + 1))
    monkeypatch.setattr(shared_runtime.engine, "hours", closed)
    user = new_customer()
    with running(with_bot_settings(shared_runtime, api)):
        [reply] = exchange(api, user, "saya mau bicara dengan petugas")
        ticket = shared_runtime.handoffs.find_open("telegram", str(user.id))
        assert ticket is not None
        post = group_post(api, f"Tiket #{ticket.id} ")
    assert "di luar jam kerja" in reply["text"] and f"{start:02d}.00" in reply["text"]
    assert "Di luar jam kerja" in post["text"]


def test_officer_reply_reaches_the_customer_and_long_replies_are_split(bot: Runtime, api: FakeBotApi) -> None:
    user = new_customer()
    ticket, post = open_ticket_via_human(api, bot, user)
    before = len(api.sent(user.id))

    officer_says(api, OFFICER, "Halo, pulsa Anda sudah kami cek & aman.", post)
    [relayed] = api.wait_for_messages(user.id, before + 1)[before:]
    assert relayed["text"] == f"🧑‍💼 {tg.OFFICER_LABEL['id']}: Halo, pulsa Anda sudah kami cek & aman."
    group_post(api, tg.REPLY_QUEUED.format(ticket=ticket.id))
    stored = [m for m in bot.handoffs.get(ticket.id).messages if m.role == "officer"]
    assert [(m.text, m.delivered) for m in stored] == [("Halo, pulsa Anda sudah kami cek & aman.", True)]
    assert stored[0].author.startswith(OFFICER.first_name)

    long_reply = " ".join(["Langkah berikutnya: buka aplikasi MyNusantel dan cek menu Tagihan."] * 80)  # > 4,096
    officer_says(api, OFFICER, long_reply, post)
    pieces = api.wait_for_messages(user.id, before + 3)[before + 1 :]
    assert len(pieces) == 2 and all(len(p["text"]) <= 4096 for p in pieces)


def test_reply_from_a_non_officer_does_not_reach_the_customer(bot: Runtime, api: FakeBotApi) -> None:
    user = new_customer()
    ticket, post = open_ticket_via_human(api, bot, user)
    before = len(api.sent(user.id))

    officer_says(api, NON_OFFICER, "Saya bukan petugas tapi mau jawab.", post)
    group_post(api, tg.OFFICERS_ONLY)
    officer_says(api, NON_OFFICER, "/close", post)
    api.wait_for(lambda: len([m for m in api.sent(OFFICERS_CHAT) if m["text"] == tg.OFFICERS_ONLY]) == 2, "refusal")
    time.sleep(1.5)  # past an outbox round: nothing may be waiting for delivery either

    assert len(api.sent(user.id)) == before
    current = bot.handoffs.get(ticket.id)
    assert current.is_open and not [m for m in current.messages if m.role == "officer"]
    assert bot.handoffs.pending_deliveries("telegram") == []


def test_bot_is_silent_while_the_ticket_is_open_and_resumes_after_close(bot: Runtime, api: FakeBotApi) -> None:
    user = new_customer()
    ticket, _ = open_ticket_via_human(api, bot, user)
    before = len(api.sent(user.id))
    group_before = len(api.sent(OFFICERS_CHAT))

    api.send_text(user, "Bagaimana cara cek pulsa? saya tunggu ya")
    forwarded = group_post(api, "saya tunggu ya", after=group_before)
    assert forwarded["text"].startswith(f"💬 Tiket #{ticket.id} ")
    assert len(api.sent(user.id)) == before  # the bot did not answer
    assert bot.handoffs.get(ticket.id).messages[-1].text == "Bagaimana cara cek pulsa? saya tunggu ya"

    officer_says(api, OFFICER, "/close", forwarded)  # a reply to any post about the ticket works
    [back] = api.wait_for_messages(user.id, before + 1)[before:]
    assert back["text"] == phrases.BOT_BACK["id"]
    assert not bot.handoffs.get(ticket.id).is_open
    group_post(api, f"Tiket #{ticket.id} ditutup oleh {OFFICER.first_name}")

    [answer] = exchange(api, user, "Bagaimana cara cek pulsa?")
    assert "cek-pulsa" in answer["text"] or phrases.SOURCE_LABEL["id"] in answer["text"]


def test_open_tickets_survive_a_restart(demo_settings: Settings, api: FakeBotApi) -> None:
    user = new_customer()
    runtime = with_bot_settings(open_runtime(demo_settings), api)
    try:
        with running(runtime):
            ticket, post = open_ticket_via_human(api, runtime, user)
    finally:
        runtime.close()

    restarted = with_bot_settings(open_runtime(demo_settings), api)
    try:
        with running(restarted):
            before = len(api.sent(user.id))
            group_before = len(api.sent(OFFICERS_CHAT))
            api.send_text(user, "masih menunggu petugas")
            group_post(api, "masih menunggu petugas", after=group_before)
            assert len(api.sent(user.id)) == before
            officer_says(api, OFFICER, "Maaf menunggu, kami bantu sekarang.", post)  # a post made before the restart
            [relayed] = api.wait_for_messages(user.id, before + 1)[before:]
        assert relayed["text"].endswith("Maaf menunggu, kami bantu sekarang.")
        assert restarted.handoffs.get(ticket.id).is_open
    finally:
        restarted.close()


@pytest.mark.fault("a sticker, photo, voice note or document on Telegram", "a plain text reply; the bot keeps going")
def test_stickers_photos_voice_notes_and_documents_get_a_text_reply(bot: Runtime, api: FakeBotApi) -> None:
    user = new_customer()
    for content in (STICKER, PHOTO, VOICE, DOCUMENT):
        api.send_content(user, **content)
    replies = api.wait_for_messages(user.id, 4)
    assert [r["text"] for r in replies] == [tg.NON_TEXT["id"]] * 4


def test_follow_up_question_is_understood_against_the_previous_one(bot: Runtime, api: FakeBotApi) -> None:
    user, newcomer = new_customer(), new_customer()
    first = bot.engine.answer(Question("cara isi ulang pulsa"))
    assert first.source is not None

    exchange(api, user, "cara isi ulang pulsa")
    [follow_up] = exchange(api, user, "kalau lewat atm?")
    [without_context] = exchange(api, newcomer, "kalau lewat atm?")

    assert f"({first.source.ref})" in follow_up["text"]
    assert f"({first.source.ref})" not in without_context["text"]


def test_long_messages_are_answered(bot: Runtime, api: FakeBotApi) -> None:
    user = new_customer()
    [reply] = exchange(api, user, "Bagaimana cara cek pulsa? " + "tolong dijawab ya " * 220)  # ~4,000 characters
    assert reply["text"]


# --- limits and robustness ----------------------------------------------------------------------------
def test_flooding_user_is_told_once_then_ignored_until_the_window_passes(
    shared_runtime: Runtime, api: FakeBotApi
) -> None:
    user = new_customer()
    with running(with_bot_settings(shared_runtime, api, flood_messages=3, flood_window_seconds=4)):
        flood = [api.send_text(user, "halo") for _ in range(5)]
        replies = api.wait_for_messages(user.id, 4)
        warned_at = time.monotonic()
        wait_until_handled(api, shared_runtime, flood[-1])  # one chat's updates are handled in order
        assert [r["text"] for r in api.sent(user.id)] == [phrases.GREETING["id"]] * 3 + [tg.FLOOD["id"]]
        assert len(replies) == 4

        time.sleep(max(0.0, warned_at + 4.3 - time.monotonic()))
        [after_window] = exchange(api, user, "halo")
    assert after_window["text"] == phrases.GREETING["id"]


@pytest.mark.fault("Telegram 429 (retry_after) on a reply", "the reply waits and goes once")
def test_retry_after_from_the_bot_api_is_honoured(bot: Runtime, api: FakeBotApi) -> None:
    user = new_customer()
    api.fail_next("sendMessage", retry_after=2)
    [answer] = exchange(api, user, "Bagaimana cara cek pulsa?")

    refused = [c for c in api.calls() if c.status == 429]
    assert len(refused) == 1
    later = [c for c in api.calls() if c.at > refused[0].at and c.method != "getUpdates"]
    assert later and all(c.at >= refused[0].at + 2 for c in later)  # nothing went out before retry_after passed
    assert later[0].method == "sendMessage" and later[0].status == 200 and answer["text"]


@pytest.mark.fault("the same Telegram update delivered twice", "answered once, one ticket")
def test_a_repeated_update_is_answered_once_and_opens_one_ticket(bot: Runtime, api: FakeBotApi) -> None:
    user, marker = new_customer(), new_customer()
    update = api.message_update(user, "saya mau bicara dengan petugas")
    api.push(update)
    api.wait_for_messages(user.id, 1)
    api.push(update)  # Telegram delivers the same update again
    exchange(api, marker, "halo")  # handled after the repeat

    assert len(api.sent(user.id)) == 1
    tickets = [t for t in bot.handoffs.list_tickets(status=None, limit=500) if t.customer == str(user.id)]
    assert len(tickets) == 1
    assert len([m for m in api.sent(OFFICERS_CHAT) if f"Tiket #{tickets[0].id} " in m["text"]]) == 1
    assert len([m for m in tickets[0].messages if m.role == "customer"]) == 1


def test_a_slow_answer_holds_up_only_its_own_customer_whose_messages_stay_in_order(
    bot: Runtime, api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = bot.conversations.handle
    release = threading.Event()
    slow, other = new_customer(), new_customer()

    def handle(question: Question, customer_name: str = "") -> Any:
        if question.user == str(slow.id) and question.text != "halo":
            release.wait(20)  # bounded: a stuck test fails instead of hanging
        return original(question, customer_name)

    monkeypatch.setattr(bot.conversations, "handle", handle)
    api.send_text(slow, "Bagaimana cara cek pulsa?")
    api.send_text(slow, "halo")  # behind the slow one: same chat
    try:
        [answer] = exchange(api, other, "Bagaimana cara cek kuota?")  # another customer is not held up
        assert answer["text"] and api.sent(slow.id) == []  # and the slow customer's "halo" waits its turn
    finally:
        release.set()
    first, second = api.wait_for_messages(slow.id, 2)
    assert "cek-pulsa" in first["text"] or phrases.SOURCE_LABEL["id"] in first["text"]
    assert second["text"] == phrases.GREETING["id"]


@pytest.mark.fault("a restart with a stored update not yet handled", "it is answered once after the restart")
def test_an_update_stored_but_not_handled_before_a_restart_is_answered_once_after_it(
    shared_runtime: Runtime, api: FakeBotApi
) -> None:
    user = new_customer()
    runtime = with_bot_settings(shared_runtime, api)
    update = api.message_update(user, "Bagaimana cara cek pulsa?")
    # The killed run had stored it (so Telegram was told) and died before answering.
    TelegramChannelStore(runtime.database).receive_update(BOT_ID, update["update_id"], json.dumps(update))
    with running(runtime):
        [answer] = api.wait_for_messages(user.id, 1)
        api.push(update)  # and Telegram sends it again all the same
        api.wait_for(
            lambda: any(int(c.params.get("offset") or 0) > update["update_id"] for c in api.calls("getUpdates")),
            "the repeat to be taken in",
        )
        wait_until_handled(api, runtime, update)
    assert answer["text"] and len(api.sent(user.id)) == 1


def test_an_officers_reply_stored_before_a_restart_is_not_stored_or_sent_twice(
    shared_runtime: Runtime, api: FakeBotApi
) -> None:
    user = new_customer()
    runtime = with_bot_settings(shared_runtime, api)
    with running(runtime):
        ticket, post = open_ticket_via_human(api, runtime, user)
    before = len(api.sent(user.id))
    text = "Sudah kami cek, pulsa Anda aman."
    update = api.message_update(OFFICER, text, chat_id=OFFICERS_CHAT, reply_to=post)
    # Its first run stored the update and the reply, and died while the reply's FAQ draft was being made.
    TelegramChannelStore(runtime.database).receive_update(BOT_ID, update["update_id"], json.dumps(update))
    runtime.conversations.officer_reply(ticket.id, text, officer_name(User(OFFICER.id, OFFICER.first_name, False)))

    with running(runtime):
        [relayed] = api.wait_for_messages(user.id, before + 1)[before:]
        wait_until_handled(api, runtime, update)
        group_post(api, tg.REPLY_QUEUED.format(ticket=ticket.id))
    assert relayed["text"].endswith(text) and len(api.sent(user.id)) == before + 1
    assert [m.text for m in runtime.handoffs.get(ticket.id).messages if m.role == "officer"] == [text]


def test_webhook_refuses_a_wrong_secret_and_runs_no_handler(shared_runtime: Runtime, api: FakeBotApi) -> None:
    port, secret = free_port(), "e2e-webhook-secret_42"
    runtime = with_bot_settings(
        shared_runtime,
        api,
        telegram_webhook_url=f"http://127.0.0.1:{port}/tanya-hook",
        telegram_webhook_secret=SecretStr(secret),
        telegram_webhook_listen="127.0.0.1",
        telegram_webhook_port=port,
    )
    intruder, customer = new_customer(), new_customer()
    store = TelegramChannelStore(shared_runtime.database)
    with running(runtime):
        assert api.webhook == {"url": f"http://127.0.0.1:{port}/tanya-hook", "secret_token": secret}
        forged = api.message_update(intruder, "Bagaimana cara cek pulsa?")
        assert api.post_webhook(forged, "wrong-secret") == 403
        assert api.post_webhook(forged, None) == 403

        genuine = api.message_update(customer, "Bagaimana cara cek pulsa?")
        assert api.post_webhook(genuine, secret) == 200
        api.wait_for_messages(customer.id, 1)
    assert api.sent(intruder.id) == []
    assert store.stored_update(BOT_ID, forged["update_id"]) is None  # refused before it reached the inbox
    stored = store.stored_update(BOT_ID, genuine["update_id"])
    assert stored is not None and stored.is_done


@pytest.mark.fault("a handler crashing mid-message", "the customer is told, the log is masked, the bot keeps going")
def test_handler_errors_are_logged_masked_and_the_bot_keeps_going(
    bot: Runtime, api: FakeBotApi, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    original = bot.conversations.handle

    def handle(question: Question, customer_name: str = "") -> Any:
        if "rusak" in question.text:
            raise RuntimeError(f"gagal: {question.text} (token {TOKEN})")
        return original(question, customer_name)

    monkeypatch.setattr(bot.conversations, "handle", handle)
    user = new_customer()
    [apology] = exchange(api, user, "nomor 081234567890 NIK 3201234567890123 rusak")
    [answer] = exchange(api, user, "Bagaimana cara cek pulsa?")

    assert apology["text"] == tg.HANDLER_ERROR["id"] and answer["text"]
    [error] = [
        r.getMessage() for r in caplog.records if r.name.startswith("bot.telegram") and r.levelno >= logging.ERROR
    ]
    assert "RuntimeError" in error and "[NIK ****23]" in error and "[PHONE ****90]" in error and "[SECRET]" in error
    assert "3201234567890123" not in error and "081234567890" not in error
    # Even at DEBUG, python-telegram-bot's and httpx's records never carry the token (request URLs are not logged).
    assert TOKEN not in caplog.text


# --- officers -----------------------------------------------------------------------------------------
def test_sms_gives_officers_an_answer_of_at_most_160_characters(bot: Runtime, api: FakeBotApi) -> None:
    question = "berapa harga paket internet bulanan?"
    full = bot.engine.answer(Question(question))
    expected = bot.conversations.sms_answer(question)
    assert len(full.text) > 160 and expected.source is not None  # the answer needs shortening

    [reply] = exchange(api, OFFICER, f"/sms {question}")
    sms, footer = reply["text"].split("\n\n", 1)
    assert sms == expected.text and len(sms) <= 160
    assert expected.source in footer

    [refused] = exchange(api, new_customer(), f"/sms {question}")
    assert refused["text"] == tg.SMS_OFFICERS_ONLY
