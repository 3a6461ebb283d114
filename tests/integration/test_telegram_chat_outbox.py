"""The customers' outbox: a handler's reply is queued in the step that marks its update done, sent piece by piece in
order per chat, retried after 429s and network errors without holding other chats, and sent after a restart."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from support.stub_bot import FlakyBot
from support.workspace import make_settings
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import NetworkError, RetryAfter

from bot.core.business_hours import BusinessHours
from bot.core.clock import utcnow
from bot.core.messages import Turn
from bot.services.conversation import ConversationService
from bot.storage.database import Database
from bot.storage.handoff_store import HandoffStore
from bot.storage.interaction_log import InteractionLog
from bot.telegram.channel_store import TelegramChannelStore
from bot.telegram.chat_outbox import ChatOutbox, GroupPosting, Piece
from bot.telegram.error_report import ErrorReport
from bot.telegram.officers_group import OfficersGroup
from bot.telegram.outbox_courier import OutboxCourier

BOT_ID, GROUP = 42, -100


def courier_over(database: Database, tmp_path: Path) -> OutboxCourier:
    """A courier as a fresh process would build it over the same database."""
    settings = make_settings(tmp_path)
    conversations = ConversationService(
        SimpleNamespace(settings=settings),  # type: ignore[arg-type]  # delivering needs no engine
        HandoffStore(database),
        InteractionLog(database),
    )
    store = TelegramChannelStore(database)
    officers = OfficersGroup(GROUP, [9], store, BusinessHours(settings), 30)
    return OutboxCourier(conversations, officers, store, 30, ErrorReport())


def later(minutes: float = 10) -> Any:
    return utcnow() + timedelta(minutes=minutes)


def test_a_reply_is_queued_in_the_step_that_marks_its_update_done(database: Database, tmp_path: Path) -> None:
    store, outbox = TelegramChannelStore(database), ChatOutbox(database)
    store.receive_update(BOT_ID, 7, "{}")
    ticket = HandoffStore(database).open_ticket("telegram", "555", "angry", "id", [Turn("customer", "parah")])
    outbox.add(555, [Piece("one"), Piece("two")], (BOT_ID, 7), GroupPosting(ticket.id, ["🆕 ticket"]))
    stored = store.stored_update(BOT_ID, 7)
    assert stored is not None and stored.is_done and stored.payload is None  # not run again after a restart
    assert [p.text for p in outbox.due(10)] == ["one"]  # a chat's second piece waits behind its first
    assert TelegramChannelStore(database).resume_unfinished(BOT_ID, 3) == ([], [])
    assert courier_over(database, tmp_path).officers.outbox.backlog().count == 1  # the ticket's post, queued too


@pytest.mark.fault(
    "Telegram 429 and network errors on customers' replies",
    "the reply waits out the pause and is sent once; other chats are not held up",
)
def test_an_update_run_by_two_replicas_queues_one_reply(database: Database, tmp_path: Path) -> None:
    store, outbox = TelegramChannelStore(database), ChatOutbox(database)
    store.receive_update(BOT_ID, 8, "{}")
    outbox.add(555, [Piece("jawaban")], (BOT_ID, 8))
    ChatOutbox(database).add(555, [Piece("jawaban")], (BOT_ID, 8))  # another replica that resumed it meanwhile
    assert [p.text for p in outbox.due(10)] == ["jawaban"]
    outbox.add(556, [Piece("tanpa update")])  # a piece of no update is always queued
    assert len(outbox.due(10)) == 2


def test_a_reply_telegram_refused_for_now_is_sent_later_and_holds_up_no_other_chat(
    database: Database, tmp_path: Path
) -> None:
    courier, bot = courier_over(database, tmp_path), FlakyBot()
    courier.chats.add(555, [Piece("first of 555"), Piece("second of 555")])
    courier.chats.add(666, [Piece("for 666")])
    courier.chats.add(777, [Piece("for 777")])
    bot.failures[555] = [RetryAfter(30)]
    bot.failures[666] = [NetworkError("connection reset")]

    async def run() -> None:
        assert await courier.deliver(bot) == 1  # type: ignore[arg-type]  # 777 at once; 555 and 666 wait
        assert await courier.deliver(bot) == 0  # type: ignore[arg-type]  # no retry before the pause is over
        assert await courier.deliver(bot, later()) == 3  # type: ignore[arg-type]

    asyncio.run(run())
    assert bot.to(555) == ["first of 555", "second of 555"]  # in order, each once
    assert bot.to(666) == ["for 666"] and bot.to(777) == ["for 777"]
    assert courier.chats.waiting() == 0


@pytest.mark.fault("restart with replies waiting for customers", "they are sent after the restart, once, in order")
def test_replies_waiting_at_a_restart_are_sent_by_the_next_process(database: Database, tmp_path: Path) -> None:
    before, bot = courier_over(database, tmp_path), FlakyBot()
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("👍", callback_data="fb:1:1")]])
    before.chats.add(555, [Piece("answer, part 1"), Piece("answer, part 2", keyboard.to_dict())])
    bot.failures[555] = [NetworkError("the process is about to die")]
    asyncio.run(before.deliver(bot))  # type: ignore[arg-type]
    assert bot.sent == []

    after = courier_over(database, tmp_path)
    assert asyncio.run(after.deliver(bot, later())) == 2  # type: ignore[arg-type]
    assert bot.to(555) == ["answer, part 1", "answer, part 2"]
    assert bot.sent[1][2] == keyboard  # the buttons come back with their piece


def test_an_officers_reply_is_queued_piece_by_piece_as_it_is_marked_delivered(
    database: Database, tmp_path: Path
) -> None:
    courier, bot = courier_over(database, tmp_path), FlakyBot()
    handoffs = courier.conversations.handoffs
    ticket = handoffs.open_ticket("telegram", "555", "angry", "id", [Turn("customer", "parah")])
    handoffs.add_message(ticket.id, "officer", "kata " * 1500, author="Sari")  # longer than one Telegram message
    bot.failures[555] = [NetworkError("timed out")]
    asyncio.run(courier.deliver(bot))  # type: ignore[arg-type]
    assert handoffs.pending_deliveries("telegram") == []  # the outbox has it now, piece by piece
    assert courier.chats.waiting() >= 2
    asyncio.run(courier.deliver(bot, later()))  # type: ignore[arg-type]
    assert len(bot.to(555)) >= 2 and len(set(bot.to(555))) == len(bot.to(555))
    assert courier.chats.waiting() == 0


class HeldBot(FlakyBot):
    """A bot whose sends wait until the test lets them through, so a stop can land while one is in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.sending = asyncio.Event()
        self.release = asyncio.Event()

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> SimpleNamespace:
        self.sending.set()
        await self.release.wait()
        return await super().send_message(chat_id, text, **kwargs)


def test_a_stopped_courier_records_the_piece_in_flight_and_sends_no_more(database: Database, tmp_path: Path) -> None:
    courier, bot = courier_over(database, tmp_path), HeldBot()
    courier.chats.add(555, [Piece("in flight"), Piece("after the stop")])

    async def run() -> None:
        running = asyncio.create_task(courier.run(bot))  # type: ignore[arg-type]
        await asyncio.wait_for(bot.sending.wait(), 10)
        courier.stop()
        bot.release.set()
        await asyncio.wait_for(running, 10)  # returns by itself: not cancelled mid-send

    asyncio.run(run())
    assert bot.to(555) == ["in flight"]
    # Telegram has the first piece and the outbox knows it, so a restart sends only the second.
    assert [p.text for p in courier_over(database, tmp_path).chats.due(10)] == ["after the stop"]
