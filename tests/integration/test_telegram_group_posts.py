"""Posts to the officers' group wait in the database until the group takes them, in order, piece by piece; the
one ticket-maintenance loop tells the group of closed Telegram tickets; the courier resumes long replies where they
failed and tells officers of replies that cannot be delivered."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from support.stub_bot import FlakyBot
from support.workspace import make_settings
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.core.business_hours import BusinessHours
from bot.core.clock import utcnow
from bot.core.messages import Turn
from bot.core.tickets import Ticket
from bot.services.conversation import ConversationService
from bot.services.ticket_maintenance import TicketMaintenance
from bot.storage.database import Database
from bot.storage.handoff_store import HandoffStore
from bot.storage.interaction_log import InteractionLog
from bot.telegram import phrases as tg
from bot.telegram.channel_store import TelegramChannelStore
from bot.telegram.error_report import ErrorReport
from bot.telegram.officers_group import OfficersGroup
from bot.telegram.outbox_courier import OutboxCourier
from bot.telegram.rendering import render_outbox_message
from bot.telegram.retry_policy import retry_delay

GROUP = -100


def group_of(database: Database, tmp_path: Path) -> OfficersGroup:
    return OfficersGroup(GROUP, [9], TelegramChannelStore(database), BusinessHours(make_settings(tmp_path)), 30)


def a_ticket(database: Database, customer: str = "555", channel: str = "telegram") -> Ticket:
    return HandoffStore(database).open_ticket(channel, customer, "angry", "id", [Turn("customer", "parah")])


def later(seconds: float = 3600) -> Any:
    return utcnow() + timedelta(seconds=seconds)


@pytest.mark.fault(
    "officers' group unreachable (the bot was removed)", "its posts wait, then reach the group in order once it is back"
)
def test_a_post_the_group_could_not_take_reaches_it_once_the_group_is_back(database: Database, tmp_path: Path) -> None:
    officers, bot = group_of(database, tmp_path), FlakyBot()
    first, second = a_ticket(database, "555"), a_ticket(database, "556")
    bot.failures[GROUP] = [Forbidden("Forbidden: bot was kicked from the supergroup chat")]

    async def run() -> None:
        await officers.post_ticket(bot, first)  # type: ignore[arg-type]
        await officers.post_ticket(bot, second)  # type: ignore[arg-type]
        assert await officers.flush(bot) == 0  # type: ignore[arg-type]
        assert officers.outbox.backlog().count == 2 and "kicked" in (officers.outbox.backlog().last_error or "")
        assert await officers.flush(bot) == 0  # type: ignore[arg-type]  # it waits its pause, no retry storm
        assert await officers.flush(bot, now=later()) == 2  # type: ignore[arg-type]  # the group is back

    asyncio.run(run())
    posts = bot.to(GROUP)
    assert f"#{first.id}" in posts[0] and f"#{second.id}" in posts[1]  # in the order they were made
    assert officers.store.ticket_for_post(GROUP, 1) == first.id  # an officer's reply to it still finds the ticket
    assert officers.outbox.backlog().count == 0


@pytest.mark.fault("restart with posts waiting for the officers' group", "they are posted after the restart")
def test_waiting_posts_survive_a_restart(database: Database, tmp_path: Path) -> None:
    ticket, bot = a_ticket(database), FlakyBot()
    bot.failures[GROUP] = [NetworkError("connection refused")]
    before = group_of(database, tmp_path)
    asyncio.run(before.post_ticket(bot, ticket))  # type: ignore[arg-type]
    asyncio.run(before.flush(bot))  # type: ignore[arg-type]
    after = group_of(database, tmp_path)  # a new process over the same database
    assert asyncio.run(after.flush(bot, now=later())) == 1  # type: ignore[arg-type]
    assert f"#{ticket.id}" in bot.to(GROUP)[0]


@pytest.mark.fault("network error on a later piece of a long group post", "no piece is posted twice")
def test_a_piece_already_posted_is_not_posted_again_when_a_later_one_fails(database: Database, tmp_path: Path) -> None:
    officers, bot, ticket = group_of(database, tmp_path), FlakyBot(), a_ticket(database)

    async def run() -> None:
        await officers._queue(ticket.id, ["satu", "dua"])
        original, failed = bot.send_message, []

        async def second_fails_once(chat_id: int, text: str, **kwargs: Any) -> SimpleNamespace:
            if text == "dua" and not failed:
                failed.append(text)
                raise NetworkError("timed out")
            return await original(chat_id, text, **kwargs)

        bot.send_message = second_fails_once  # type: ignore[method-assign]
        assert await officers.flush(bot) == 1  # type: ignore[arg-type]
        assert await officers.flush(bot, now=later()) == 1  # type: ignore[arg-type]

    asyncio.run(run())
    assert bot.to(GROUP) == ["satu", "dua"]


def test_telegram_refusing_a_posts_content_gives_it_up_and_the_next_goes_on(database: Database, tmp_path: Path) -> None:
    officers, bot, ticket = group_of(database, tmp_path), FlakyBot(), a_ticket(database)
    bot.failures[GROUP] = [BadRequest("Can't parse entities: unclosed tag")]

    async def run() -> int:
        await officers._queue(ticket.id, ["<b>rusak"])
        await officers._queue(ticket.id, ["baik"])
        return await officers.flush(bot)  # type: ignore[arg-type]

    assert asyncio.run(run()) == 2
    assert bot.to(GROUP) == ["baik"]


@pytest.mark.fault("Telegram 429 (retry_after) on a group post", "it waits as long as Telegram says, then goes")
def test_a_429_waits_as_long_as_telegram_says(database: Database, tmp_path: Path) -> None:
    officers, bot, ticket = group_of(database, tmp_path), FlakyBot(), a_ticket(database)
    bot.failures[GROUP] = [RetryAfter(42)]
    asyncio.run(officers._queue(ticket.id, ["x"]))
    asyncio.run(officers.flush(bot))  # type: ignore[arg-type]
    assert asyncio.run(officers.flush(bot, now=later(30))) == 0  # type: ignore[arg-type]
    assert asyncio.run(officers.flush(bot, now=later(60))) == 1  # type: ignore[arg-type]


def test_the_pause_grows_and_is_capped() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 10, 50)] == [5, 10, 20, 300, 300]


@pytest.mark.fault(
    "idle tickets on two channels, a failing listener", "closed once by one loop; one notice each; the group told once"
)
def test_one_loop_closes_idle_tickets_and_each_listener_hears_once(database: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, handoff_idle_minutes=0)
    handoffs = HandoffStore(database)
    engine = SimpleNamespace(settings=settings)  # closing idle tickets needs only the engine's settings
    maintenance = TicketMaintenance(ConversationService(engine, handoffs, InteractionLog(database)))  # type: ignore[arg-type]
    officers = group_of(database, tmp_path)
    heard: list[list[int]] = []

    def broken(_tickets: list[Ticket]) -> None:
        raise RuntimeError("a listener that fails")

    maintenance.add_listener(broken)
    maintenance.add_listener(officers.tell_closed_idle)
    maintenance.add_listener(lambda tickets: heard.append([t.id for t in tickets]))
    on_telegram, on_web = a_ticket(database, "555"), a_ticket(database, "session-1", channel="web")
    closed = maintenance.run_once()
    assert {t.id for t in closed} == {on_telegram.id, on_web.id}
    assert heard == [[t.id for t in closed]] and maintenance.run_once() == []  # once, not again
    bot = FlakyBot()
    asyncio.run(officers.flush(bot))  # type: ignore[arg-type]
    assert bot.to(GROUP) == [tg.TICKET_CLOSED_IDLE.format(ticket=on_telegram.id, minutes=30)]  # not the web one's
    # Each customer gets one "Tanya is back" notice through their channel's outbox.
    assert [m.role for _, m in handoffs.pending_deliveries("telegram")] == ["system"]
    assert [m.role for _, m in handoffs.pending_deliveries("web")] == ["system"]


@pytest.mark.fault(
    "network error mid-way through a long reply; a customer who blocked the bot",
    "every piece sent once; officers told of the undeliverable reply",
)
def test_the_courier_resumes_a_long_reply_and_tells_officers_of_one_it_cannot_deliver(
    database: Database, tmp_path: Path
) -> None:
    handoffs = HandoffStore(database)
    settings = make_settings(tmp_path)
    conversations = ConversationService(SimpleNamespace(settings=settings), handoffs, InteractionLog(database))  # type: ignore[arg-type]
    officers = group_of(database, tmp_path)
    courier = OutboxCourier(conversations, officers, officers.store, 30, ErrorReport())
    long_one, blocked = a_ticket(database, "555"), a_ticket(database, "666")
    long_message = handoffs.add_message(long_one.id, "officer", "kata " * 1500, author="Sari")  # several messages
    handoffs.add_message(blocked.id, "officer", "Sudah kami perbaiki.", author="Sari")
    bot = FlakyBot()
    sends_before_failure = 1

    original = bot.send_message

    async def second_piece_fails_once(chat_id: int, text: str, **kwargs: Any) -> SimpleNamespace:
        nonlocal sends_before_failure
        if chat_id == 666:
            raise Forbidden("Forbidden: bot was blocked by the user")
        if chat_id == 555 and len(bot.to(555)) == sends_before_failure:
            sends_before_failure = -1
            raise NetworkError("timed out")
        return await original(chat_id, text, **kwargs)

    bot.send_message = second_piece_fails_once  # type: ignore[method-assign]

    async def run() -> None:
        assert await courier.deliver(bot) == 1  # type: ignore[arg-type]  # the first piece; the blocked chat given up
        assert await courier.deliver(bot) == 0  # type: ignore[arg-type]  # the failed piece waits out its pause
        later = utcnow() + timedelta(minutes=10)
        assert await courier.deliver(bot, later) == len(render_outbox_message(long_one, long_message)) - 1  # type: ignore[arg-type]
        await officers.flush(bot)  # type: ignore[arg-type]

    asyncio.run(run())
    pieces = bot.to(555)
    assert len(pieces) == len(set(pieces)) >= 2  # every piece once, none again
    assert handoffs.pending_deliveries("telegram") == [] and courier.chats.waiting() == 0
    assert any(f"#{blocked.id}" in text and "tidak bisa dikirim" in text for text in bot.to(GROUP))
    # The web console shows it on the ticket too (a note for officers; never sent to the customer).
    notes = [m for m in handoffs.get(blocked.id).messages if m.role == "note"]
    assert len(notes) == 1 and "tidak bisa dikirim" in notes[0].text and notes[0].delivered


def test_a_post_telegram_refuses_is_given_up_and_noted_on_the_ticket(database: Database, tmp_path: Path) -> None:
    officers, bot = group_of(database, tmp_path), FlakyBot()
    refused, next_one = a_ticket(database, "555"), a_ticket(database, "556")
    bot.failures[GROUP] = [BadRequest("Can't parse entities: unsupported start tag")]

    async def run() -> None:
        await officers.post_ticket(bot, refused)  # type: ignore[arg-type]
        await officers.post_ticket(bot, next_one)  # type: ignore[arg-type]
        await officers.flush(bot)  # type: ignore[arg-type]

    asyncio.run(run())
    assert [f"#{next_one.id}" in text for text in bot.to(GROUP)] == [True]  # the next post is not held up
    notes = [m.text for m in HandoffStore(database).get(refused.id).messages if m.role == "note"]
    assert len(notes) == 1 and "grup petugas" in notes[0]  # the web console shows why the group never saw it
