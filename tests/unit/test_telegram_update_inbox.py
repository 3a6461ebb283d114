"""The durable update inbox (stored before Telegram is told, repeated deliveries dropped, done once handled,
unfinished updates resumed in order after a restart) and the processor that runs chats side by side, each in
order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from support.fake_bot_api import FakeBotApi, FakeUser
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.core.clock import utcnow
from bot.storage.database import Database
from bot.telegram.channel_store import TelegramChannelStore
from bot.telegram.chat_order import ChatOrderedProcessor, chat_key
from bot.telegram.update_inbox import RESUMES_BEFORE_GIVING_UP, InboxApplication, UpdateInbox

BOT = SimpleNamespace(id=7_000_001, defaults=None)  # what the inbox needs of a Bot: its id (and no defaults)
TOKEN = "123456789:TEST-inbox-token-0123456789abcdef"


def inbox_application(api: FakeBotApi, inbox: UpdateInbox) -> Application[Any, Any, Any, Any, Any, Any]:
    """A python-telegram-bot Application on the fake server, taking its updates through `inbox`."""
    return (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(api.base_url)
        .update_queue(inbox)
        .application_class(InboxApplication)
        .job_queue(None)
        .build()
    )


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tanya.db'}"


@pytest.fixture
def store(database_url: str) -> Iterator[TelegramChannelStore]:
    database = Database(database_url)
    yield TelegramChannelStore(database)
    database.dispose()


def update_of(update_id: int, chat_id: int = 555, text: str = "halo") -> Update:
    data = {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": chat_id, "type": "private", "first_name": "Budi"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Budi"},
            "text": text,
        },
    }
    return Update.de_json(data, BOT)  # type: ignore[arg-type]


def drain(inbox: UpdateInbox) -> list[object]:
    items = []
    while not inbox.empty():
        items.append(inbox.get_nowait())
    return items


# --- the table ----------------------------------------------------------------------------------------
def test_an_update_is_stored_once_per_bot_and_erased_when_done(store: TelegramChannelStore) -> None:
    assert store.receive_update(1, 500, '{"update_id": 500}') is True
    assert store.receive_update(1, 500, '{"update_id": 500}') is False  # a repeated delivery
    assert store.receive_update(2, 500, "{}") is True  # another bot's update ids are its own
    stored = store.stored_update(1, 500)
    assert stored is not None and not stored.is_done and stored.payload == '{"update_id": 500}'
    assert store.stored_update(1, 501) is None

    store.mark_updates_done(1, [500])
    store.mark_updates_done(1, [500])  # marking twice is harmless
    done = store.stored_update(1, 500)
    assert done is not None and done.is_done and done.payload is None  # what the customer typed is not kept
    assert store.receive_update(1, 500, "{}") is False  # still recognised as a repeat once done


def test_only_handled_updates_are_forgotten(store: TelegramChannelStore) -> None:
    for update_id in (1, 2, 3):
        store.receive_update(1, update_id, "{}")
    store.mark_updates_done(1, [1])
    store.mark_updates_done(1, [2])
    assert store.forget_updates_before(utcnow() - timedelta(days=7)) == 0  # nothing is a week old
    assert store.forget_updates_before(utcnow() + timedelta(seconds=1)) == 2
    assert store.stored_update(1, 1) is None and store.stored_update(1, 3) is not None  # 3 still waits
    assert store.receive_update(1, 1, "{}") is True  # forgotten: a delivery that late would be new


def test_unfinished_updates_resume_oldest_first_and_are_given_up_after_repeated_starts(
    store: TelegramChannelStore,
) -> None:
    for update_id in (30, 10, 20):  # received in this order
        store.receive_update(1, update_id, f'{{"update_id": {update_id}}}')
    store.mark_updates_done(1, [10])
    store.receive_update(2, 99, "{}")  # another bot's

    for start in range(1, RESUMES_BEFORE_GIVING_UP + 1):
        resumed, given_up = store.resume_unfinished(1, RESUMES_BEFORE_GIVING_UP)
        assert [(u.update_id, u.resumes) for u in resumed] == [(30, start), (20, start)] and given_up == []
    resumed, given_up = store.resume_unfinished(1, RESUMES_BEFORE_GIVING_UP)
    assert resumed == [] and given_up == [30, 20]
    assert all(u is not None and u.is_done for u in (store.stored_update(1, 30), store.stored_update(1, 20)))
    assert [u.update_id for u in store.resume_unfinished(2, RESUMES_BEFORE_GIVING_UP)[0]] == [99]


# --- the queue ----------------------------------------------------------------------------------------
def test_put_stores_the_update_before_queueing_it_and_drops_a_repeat(store: TelegramChannelStore) -> None:
    inbox = UpdateInbox(store)
    queued_when_stored: list[int] = []
    receive = store.receive_update

    def spy(bot_id: int, update_id: int, payload: str) -> bool:
        queued_when_stored.append(inbox.qsize())
        return receive(bot_id, update_id, payload)

    store.receive_update = spy  # type: ignore[method-assign]
    stop_signal = object()

    async def run() -> list[object]:
        await inbox.resume(BOT)  # type: ignore[arg-type]
        await inbox.put(update_of(1, text="Bagaimana cara cek pulsa?"))
        await inbox.put(update_of(1, text="Bagaimana cara cek pulsa?"))  # Telegram sends it again
        await inbox.put(update_of(2))
        await inbox.put(stop_signal)  # the Application's stop signal is no update: queued, not stored
        return drain(inbox)

    try:
        items = asyncio.run(run())
    finally:
        inbox.close()
    assert [getattr(i, "update_id", i) for i in items] == [1, 2, stop_signal]
    assert queued_when_stored == [0, 1, 1]  # each update was in the database before it was in the queue
    stored = store.stored_update(BOT.id, 1)
    assert stored is not None and stored.payload is not None
    assert Update.de_json(json.loads(stored.payload), None).effective_message.text == "Bagaimana cara cek pulsa?"  # type: ignore[union-attr]


def test_an_inbox_not_opened_refuses_updates(store: TelegramChannelStore) -> None:
    inbox = UpdateInbox(store)
    try:
        with pytest.raises(RuntimeError, match="resume"):
            asyncio.run(inbox.put(update_of(1)))
    finally:
        inbox.close()


def test_after_a_restart_unfinished_updates_are_queued_again_in_order(database_url: str) -> None:
    first_run = UpdateInbox(TelegramChannelStore(Database(database_url)))

    async def before_the_kill() -> None:
        await first_run.resume(BOT)  # type: ignore[arg-type]
        for update_id, text in ((1, "cek pulsa"), (2, "cek kuota"), (3, "isi ulang")):
            await first_run.put(update_of(update_id, text=text))
        handled = first_run.get_nowait()
        assert isinstance(handled, Update)
        await first_run.mark_done(handled)  # 1 was answered; 2 and 3 were in hand when the process died

    asyncio.run(before_the_kill())
    first_run.close()

    restarted = UpdateInbox(TelegramChannelStore(Database(database_url)))

    async def after_the_restart() -> tuple[int, list[object], int]:
        count = await restarted.resume(BOT)  # type: ignore[arg-type]
        await restarted.put(update_of(2, text="cek kuota"))  # Telegram resends one it was never told of
        return count, drain(restarted), restarted.qsize()

    try:
        count, items, left = asyncio.run(after_the_restart())
        assert count == 2 and left == 0
        assert [(u.update_id, u.effective_message.text) for u in items] == [(2, "cek kuota"), (3, "isi ulang")]  # type: ignore[attr-defined]
        assert all(u.get_bot() is BOT for u in items)  # type: ignore[attr-defined]
        assert restarted.received_before_restart(items[0]) is not None  # type: ignore[arg-type]
        assert restarted.received_before_restart(update_of(4)) is None
        asyncio.run(restarted.mark_done(items[0]))  # type: ignore[arg-type]
        assert restarted.received_before_restart(items[0]) is None  # type: ignore[arg-type]
    finally:
        restarted.close()


def test_marks_arriving_together_are_written_together(store: TelegramChannelStore) -> None:
    inbox = UpdateInbox(store)
    write, batches = store.mark_updates_done, []

    def spy(bot_id: int, update_ids: set[int]) -> None:
        batches.append(sorted(update_ids))
        write(bot_id, update_ids)

    store.mark_updates_done = spy  # type: ignore[method-assign]
    updates = [update_of(update_id) for update_id in range(1, 11)]

    async def run() -> None:
        await inbox.resume(BOT)  # type: ignore[arg-type]
        for update in updates:
            await inbox.put(update)
        await asyncio.gather(*(inbox.mark_done(u) for u in updates))  # ten handlers finishing at once

    try:
        asyncio.run(run())
    finally:
        inbox.close()
    assert batches == [[1], list(range(2, 11))]  # the first alone; the nine that came meanwhile in one write
    assert all(store.stored_update(BOT.id, u.update_id).is_done for u in updates)  # type: ignore[union-attr]


def test_a_failed_mark_is_logged_not_raised(store: TelegramChannelStore, caplog: pytest.LogCaptureFixture) -> None:
    inbox = UpdateInbox(store)

    def locked(*_args: object) -> None:
        raise OperationalError(
            "UPDATE telegram_updates ...", {"payload": "nomor saya"}, Exception("database is locked")
        )

    store.mark_updates_done = locked  # type: ignore[method-assign]

    async def run() -> None:
        await inbox.resume(BOT)  # type: ignore[arg-type]
        await inbox.mark_done(update_of(1))  # the customer has their answer: nobody must apologise for this

    try:
        asyncio.run(run())
    finally:
        inbox.close()
    assert "could not be marked done" in caplog.text and "database is locked" in caplog.text
    assert "nomor saya" not in caplog.text  # SQLAlchemy's message carries the parameters: not logged


# --- the application ----------------------------------------------------------------------------------
def test_polling_survives_an_update_that_could_not_be_stored_and_gets_it_again(store: TelegramChannelStore) -> None:
    inbox = UpdateInbox(store)
    receive, failures = store.receive_update, [OperationalError("INSERT ...", {}, Exception("database is locked"))]

    def flaky(bot_id: int, update_id: int, payload: str) -> bool:
        if failures:
            raise failures.pop()
        return receive(bot_id, update_id, payload)

    store.receive_update = flaky  # type: ignore[method-assign]
    handled: list[int] = []

    async def handler(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        handled.append(update.update_id)

    async def run(api: FakeBotApi) -> None:
        application = inbox_application(api, inbox)
        application.add_handler(TypeHandler(Update, handler))
        async with application:
            await inbox.resume(application.bot)
            assert application.updater is not None
            await application.updater.start_polling(poll_interval=0, timeout=1)
            await application.start()
            sent = api.send_text(FakeUser(555, "Budi"), "halo")
            for _ in range(100):  # the failed batch is fetched again after python-telegram-bot's 1 s pause
                if handled:
                    break
                await asyncio.sleep(0.05)
            await application.updater.stop()
            await application.stop()
        assert handled == [sent["update_id"]] and not failures

    try:
        with FakeBotApi(TOKEN, keep_until_confirmed=True) as api:
            asyncio.run(run(api))
    finally:
        inbox.close()


def test_an_update_is_done_once_its_handlers_ran_even_when_one_failed_but_not_when_stopped_mid_handler(
    store: TelegramChannelStore,
) -> None:
    inbox = UpdateInbox(store)
    handled: list[int] = []
    errors: list[BaseException] = []
    never = asyncio.Event()

    async def handler(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        text = update.effective_message.text if update.effective_message else ""
        if text == "rusak":
            raise RuntimeError("the handler failed")
        if text == "lambat":
            await never.wait()
        handled.append(update.update_id)

    async def on_error(_update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert context.error is not None
        errors.append(context.error)

    async def run(api: FakeBotApi) -> None:
        application = inbox_application(api, inbox)
        application.add_handler(TypeHandler(Update, handler))
        application.add_error_handler(on_error)
        async with application:  # initialize (getMe on the fake server) and shutdown
            await inbox.resume(application.bot)
            user = FakeUser(555, "Budi")
            ok, failing, slow = (
                Update.de_json(api.message_update(user, text), application.bot) for text in ("halo", "rusak", "lambat")
            )
            for update in (ok, failing, slow):
                await inbox.put(update)
            await application.process_update(ok)
            await application.process_update(failing)
            stopped = asyncio.create_task(application.process_update(slow))
            await asyncio.sleep(0.05)
            stopped.cancel()  # the process stops while the handler is running
            with pytest.raises(asyncio.CancelledError):
                await stopped
            states = {u.update_id: store.stored_update(application.bot.id, u.update_id) for u in (ok, failing, slow)}
            assert [s is not None and s.is_done for s in states.values()] == [True, True, False]
            assert handled == [ok.update_id] and [str(e) for e in errors] == ["the handler failed"]

    try:
        with FakeBotApi(TOKEN) as api:
            asyncio.run(run(api))
    finally:
        inbox.close()


# --- chats side by side, each in order ----------------------------------------------------------------
class Journal:
    """What the fake handlers did, in order; `gates` hold a handler until the test opens them."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}

    def gate(self, name: str) -> asyncio.Event:
        return self.gates.setdefault(name, asyncio.Event())

    async def handle(self, name: str, held: bool = False) -> None:
        self.events.append(f"start {name}")
        if held:
            await self.gate(name).wait()
        self.events.append(f"end {name}")

    async def until(self, event: str) -> None:
        for _ in range(200):  # bounded: a broken processor fails the test instead of hanging it
            if event in self.events:
                return
            await asyncio.sleep(0.005)
        raise AssertionError(f"{event!r} never happened; journal: {self.events}")


def process_all(processor: ChatOrderedProcessor, work: list[tuple[Update, Any]]) -> list[asyncio.Task[None]]:
    """Start one task per update in queue order, as the Application does."""
    return [asyncio.create_task(processor.process_update(update, coroutine)) for update, coroutine in work]


def test_two_chats_interleave_and_each_chat_keeps_its_order() -> None:
    async def run() -> tuple[list[str], int]:
        processor, journal = ChatOrderedProcessor(workers=4), Journal()
        tasks = process_all(
            processor,
            [
                (update_of(1, chat_id=10), journal.handle("a1", held=True)),
                (update_of(2, chat_id=10), journal.handle("a2")),
                (update_of(3, chat_id=20), journal.handle("b1", held=True)),
                (update_of(4, chat_id=20), journal.handle("b2")),
            ],
        )
        await journal.until("start b1")  # chat 20 runs while chat 10's first update is held
        assert "start a2" not in journal.events and "start b2" not in journal.events
        journal.gate("b1").set()
        await journal.until("end b2")  # chat 20 finished; chat 10 still waits for its first
        assert "start a2" not in journal.events
        journal.gate("a1").set()
        await asyncio.gather(*tasks)
        return journal.events, processor.chats_in_progress

    events, chats_left = asyncio.run(run())
    assert events == ["start a1", "start b1", "end b1", "start b2", "end b2", "end a1", "start a2", "end a2"]
    assert chats_left == 0  # a chat's lock is dropped once it has nothing in progress


def test_a_chat_waiting_on_its_own_updates_holds_no_worker_and_workers_are_bounded() -> None:
    async def run() -> list[str]:
        processor, journal = ChatOrderedProcessor(workers=2), Journal()
        chatty = [(update_of(i, chat_id=10), journal.handle(f"a{i}", held=i == 1)) for i in range(1, 6)]
        tasks = process_all(
            processor,
            [
                *chatty,  # a customer writing five times while the first is slow
                (update_of(6, chat_id=20), journal.handle("b", held=True)),
                (update_of(7, chat_id=30), journal.handle("c")),
            ],
        )
        await journal.until("start b")  # the second worker is free: a2..a5 wait for their chat, not for it
        await asyncio.sleep(0.05)
        assert "start c" not in journal.events  # both workers are busy (a1, b)
        journal.gate("b").set()
        await journal.until("end c")
        journal.gate("a1").set()
        await asyncio.gather(*tasks)
        return journal.events

    events = asyncio.run(run())
    assert [e for e in events if e.startswith("start a")] == [f"start a{i}" for i in range(1, 6)]


def test_updates_are_ordered_by_chat_else_by_sender() -> None:
    press = Update.de_json(
        {
            "update_id": 9,
            "callback_query": {"id": "9", "from": {"id": 77, "is_bot": False, "first_name": "B"}, "chat_instance": "c"},
        },
        None,
    )
    assert chat_key(update_of(1, chat_id=555)) == ("chat", 555)
    assert chat_key(press) == ("user", 77)  # a button under an inline message: no chat, its sender
    assert chat_key(object()) is None


def test_a_live_replica_takes_over_only_what_a_dead_one_left_long_ago(database_url: str) -> None:
    database = Database(database_url)
    live = UpdateInbox(TelegramChannelStore(database))
    dead_replica = TelegramChannelStore(database)

    async def rounds() -> tuple[int, int, list[object]]:
        assert await live.resume(BOT) == 0  # type: ignore[arg-type]  # its own start: nothing unfinished yet
        for update_id in (11, 12):  # received by the other replica, which then died
            dead_replica.receive_update(BOT.id, update_id, json.dumps(update_of(update_id).to_dict()))
        await live.put(update_of(13))  # in hand here, not finished
        early = await live.resume(BOT, utcnow() - timedelta(minutes=10))  # type: ignore[arg-type]
        late = await live.resume(BOT, utcnow() + timedelta(minutes=1))  # type: ignore[arg-type]
        return early, late, drain(live)

    try:
        early, late, items = asyncio.run(rounds())
        assert early == 0  # nothing was received that long ago
        assert late == 2  # 11 and 12; 13 is in hand here and is not queued twice
        assert [u.update_id for u in items] == [13, 11, 12]  # type: ignore[attr-defined]
    finally:
        live.close()
        database.dispose()
