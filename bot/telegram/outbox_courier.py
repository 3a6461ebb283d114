"""Sends what waits in the persisted outboxes: customers' pieces (`ChatOutbox`: answers, notices, officers' replies
and "Tanya is back") and the officers' group's posts (`GroupOutbox`); forgets old handled-update records.

Officers' replies and notices are stored on their ticket first (every channel delivers its own); the courier moves
each Telegram one into the chat outbox, piece by piece, in the step that marks it delivered. A piece that fails is
retried with a growing pause; a chat Telegram will never deliver to (the customer blocked the bot) is given up, and
when that loses an officer's reply the officers are told, in the group and on the ticket in the web console.

Idle tickets are closed by the one ticket-maintenance loop (`bot.services.ticket_maintenance`); the courier listens to it,
so the officers' group hears of each closed Telegram ticket once. Across replicas, only the holder of the outbox
lease sends (any replica queues; the holder sends within a tick), so no piece goes twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress
from datetime import datetime, timedelta
from functools import partial

from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot.core.clock import utcnow
from bot.core.cluster import TELEGRAM_OUTBOX, LeaseKeeper, SoleProcess
from bot.core.messages import MessageRole
from bot.services.conversation import ConversationService
from bot.services.ticket_maintenance import TicketMaintenance
from bot.telegram import phrases as tg
from bot.telegram.channel_store import TelegramChannelStore
from bot.telegram.chat_outbox import ChatOutbox, ChatPiece, Piece
from bot.telegram.error_report import ErrorReport
from bot.telegram.officers_group import CHANNEL, CONTENT_ERRORS, OfficersGroup
from bot.telegram.rendering import render_outbox_message
from bot.telegram.retry_policy import retry_after_seconds

log = logging.getLogger(__name__)

# Telegram gives up redelivering an update within a day; a week of records is plenty.
_SEEN_UPDATES_KEPT = timedelta(days=7)
# Chats sent to at once: one slow or rate-limited chat holds up no other.
CONCURRENT_CHATS = 16
# How long a stopping courier may finish the pieces in hand before it is cancelled.
STOP_GRACE_SECONDS = 10.0
# How long the outbox lease lasts unrenewed: a sending replica that dies is replaced within this.
LEASE_SECONDS = 15.0
# How long one round may send before the next (which renews the lease) begins: well inside the lease, so a burst
# never outlives it, and officers' group posts (20 a minute) never hold customers' replies up for long.
ROUND_SECONDS = 5.0
# Telegram's answers for a chat that is gone for good: everything queued for it is given up.
_GONE_CHAT_ERRORS = ("chat not found", "user is deactivated", "bot was blocked", "bot can't initiate")


class OutboxCourier:
    """Sends the queued pieces of every customer chat (oldest first, in order per chat) and the group's posts."""

    def __init__(
        self,
        conversations: ConversationService,
        officers: OfficersGroup,
        store: TelegramChannelStore,
        idle_minutes: int,
        errors: ErrorReport,
        maintenance: TicketMaintenance | None = None,
        leases: LeaseKeeper | None = None,
    ) -> None:
        self.conversations = conversations
        self.officers = officers
        self.store = store
        self.idle_minutes = idle_minutes
        self.errors = errors
        self.maintenance = maintenance
        self.leases = leases or SoleProcess()
        self.chats = ChatOutbox(store.db)
        self._lock = asyncio.Lock()
        self._paused = False  # while Telegram fails every chat: logged once, not once per try
        # Set by `stop`: the courier finishes the piece in hand and records it, then returns. Cancelling it
        # mid-send instead could leave a message Telegram took unrecorded, and so sent again after a restart.
        self._stopping = False

    def stop(self) -> None:
        """Finish the sends in hand and return from `run` (a graceful stop; `run` is cancelled only if it hangs)."""
        self._stopping = True
        self.wake()

    def wake(self) -> None:
        """Something was queued: send it now rather than at the next tick."""
        self.officers.queued.set()

    async def deliver(self, bot: Bot, now: datetime | None = None, until: float | None = None) -> int:
        """Queue the ticket messages waiting for Telegram customers, then send every piece that is due (until the
        monotonic time `until`, when given); returns how many pieces went out. `now` is for tests: the time the
        pauses after failures are measured against."""
        async with self._lock:
            await self._take_ticket_messages(bot)
            sent = 0
            while (
                not self._stopping
                and (until is None or time.monotonic() < until)
                and (due := await asyncio.to_thread(self.chats.due, CONCURRENT_CHATS, now))
            ):
                results = await asyncio.gather(*(self._send(bot, piece) for piece in due))
                sent += results.count(True)
                if all(result is False for result in results):  # every chat waits out a pause: the next tick tries
                    break
            return sent

    async def _take_ticket_messages(self, bot: Bot) -> None:
        handoffs = self.conversations.handoffs
        for ticket, message in await asyncio.to_thread(handoffs.pending_deliveries, CHANNEL):
            pieces = [Piece(text) for text in render_outbox_message(ticket, message)]
            try:
                chat_id = int(ticket.customer)
            except ValueError:  # not a Telegram chat id: nothing could ever deliver it
                await asyncio.to_thread(handoffs.mark_delivered, message.id)
                await self._report_lost(
                    bot, ticket.id, "not a Telegram chat", officer_wrote=message.role == MessageRole.OFFICER
                )
                continue
            await asyncio.to_thread(
                self.chats.take_ticket_message,
                message.id,
                chat_id,
                ticket.id,
                pieces,
                message.role == MessageRole.OFFICER,
            )

    async def _send(self, bot: Bot, piece: ChatPiece) -> bool | None:
        """True when Telegram took the piece, False when it waits for another try, None when it was given up."""
        keyboard = InlineKeyboardMarkup.de_json(piece.keyboard, bot) if piece.keyboard else None
        try:
            await bot.send_message(piece.chat_id, piece.text, reply_markup=keyboard)
        except Forbidden as error:
            await self._give_up(bot, piece, error, whole_chat=True)
            return None
        except BadRequest as error:
            reason = str(error).lower()
            if any(marker in reason for marker in _GONE_CHAT_ERRORS):
                await self._give_up(bot, piece, error, whole_chat=True)
            elif any(marker in reason for marker in CONTENT_ERRORS):
                await self._give_up(bot, piece, error, whole_chat=False)
            else:
                return await self._failed(piece, error)
            return None
        except RetryAfter as error:
            return await self._failed(piece, error, retry_after_seconds(error))
        except TelegramError as error:
            return await self._failed(piece, error)
        await asyncio.to_thread(self.chats.sent, piece)
        if self._paused:
            self._paused = False
            log.info("Telegram takes messages again; waiting replies are being sent")
        return True

    async def _failed(self, piece: ChatPiece, error: TelegramError, retry_after: float | None = None) -> bool:
        pause = await asyncio.to_thread(self.chats.failed, piece, str(error), retry_after)
        if not self._paused:
            self._paused = True
            log.warning(
                "A reply could not be sent (%s); it waits and is tried again in %.0f s", error, pause.total_seconds()
            )
        return False

    async def _give_up(self, bot: Bot, piece: ChatPiece, error: TelegramError, whole_chat: bool) -> None:
        dropped = await asyncio.to_thread(self.chats.give_up, piece, whole_chat)
        log.warning("%d queued piece(s) for a Telegram chat given up: %s", len(dropped), error)
        for ticket_id in dict.fromkeys(p.ticket_id for p in dropped if p.ticket_id is not None and p.report_failure):
            await self._report_lost(bot, ticket_id, str(error), officer_wrote=True)

    async def _report_lost(self, bot: Bot, ticket_id: int, reason: str, officer_wrote: bool) -> None:
        """An officer's reply that can never reach its customer: said in the group and on the ticket (console)."""
        if not officer_wrote:  # a notice nobody wrote needs nobody told
            return
        note = tg.REPLY_UNDELIVERABLE.format(ticket=ticket_id, reason=reason[:200])
        await asyncio.to_thread(self.conversations.note_for_officers, ticket_id, note)
        await self.officers.notify(bot, ticket_id, note)  # escaped by `notify`

    async def run(self, bot: Bot, interval: float = 1.0, housekeeping_every: float = 60.0) -> None:
        """Deliver every `interval` seconds (at once when something is queued: `wake`) and do housekeeping every
        `housekeeping_every`, until cancelled."""
        if self.maintenance is not None:
            self.maintenance.add_listener(self.officers.tell_closed_idle)
        next_housekeeping = time.monotonic()
        self._stopping = False
        try:
            while not self._stopping:
                self.officers.queued.clear()  # what is queued from here on is sent by this round or wakes the next
                try:
                    if not await asyncio.to_thread(self.leases.hold, TELEGRAM_OUTBOX, LEASE_SECONDS):
                        await self._wait_for_work(interval)  # another replica sends
                        continue
                    if time.monotonic() >= next_housekeeping:
                        next_housekeeping = time.monotonic() + housekeeping_every
                        cutoff = utcnow() - _SEEN_UPDATES_KEPT
                        await asyncio.to_thread(self.store.forget_updates_before, cutoff)
                        await asyncio.to_thread(self.conversations.turn_keys.forget_before, cutoff)
                    round_ends = time.monotonic() + ROUND_SECONDS
                    await self.deliver(bot, until=round_ends)
                    await self.officers.flush(bot, until=partial(self._round_over, round_ends))
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    self.errors.log(log, "Outbox delivery failed; retrying", error)
                await self._wait_for_work(interval)
        finally:
            if self.maintenance is not None:
                self.maintenance.remove_listener(self.officers.tell_closed_idle)
            self.leases.release(TELEGRAM_OUTBOX)

    def _round_over(self, round_ends: float) -> bool:
        return self._stopping or time.monotonic() > round_ends

    async def _wait_for_work(self, interval: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self.officers.queued.wait(), interval)
