"""Delivers the handoff outbox to Telegram customers (officers' replies typed in the group or in the web console,
and "Tanya is back" notices) and the queued posts to the officers' group; forgets old handled-update records.

Idle tickets are closed by the one ticket-maintenance loop (`bot.ticket_maintenance`); the courier listens to it,
so the officers' group hears of each closed Telegram ticket once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress
from datetime import timedelta

from telegram import Bot
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.conversation import ConversationService
from bot.database import utcnow
from bot.handoff_store import Ticket, TicketMessage
from bot.telegram import phrases as tg
from bot.telegram.channel_store import TelegramChannelStore
from bot.telegram.error_report import ErrorReport
from bot.telegram.officers_group import CHANNEL, OfficersGroup
from bot.telegram.rendering import as_html, render_outbox_message
from bot.ticket_maintenance import TicketMaintenance

log = logging.getLogger(__name__)

__all__ = ["CHANNEL", "OutboxCourier"]

# Telegram gives up redelivering an update within a day; a week of records is plenty.
_SEEN_UPDATES_KEPT = timedelta(days=7)
# Pieces already sent of messages not yet delivered whole, kept for at most this many messages.
_PIECES_KEPT = 1000


class OutboxCourier:
    """Sends undelivered ticket messages of Telegram customers and marks them delivered; flushes the group's posts."""

    def __init__(
        self,
        conversations: ConversationService,
        officers: OfficersGroup,
        store: TelegramChannelStore,
        idle_minutes: int,
        errors: ErrorReport,
        maintenance: TicketMaintenance | None = None,
    ) -> None:
        self.conversations = conversations
        self.officers = officers
        self.store = store
        self.idle_minutes = idle_minutes
        self.errors = errors
        self.maintenance = maintenance
        self._lock = asyncio.Lock()
        # message id -> pieces of it already sent: a long reply whose second piece failed resumes there.
        self._pieces_sent: dict[int, int] = {}

    async def deliver(self, bot: Bot) -> int:
        """Send what is waiting, oldest first; returns how many messages went out whole."""
        async with self._lock:
            handoffs = self.conversations.handoffs
            pending = await asyncio.to_thread(handoffs.pending_deliveries, CHANNEL)
            sent = 0
            for ticket, message in pending:
                try:
                    await self._send_pieces(bot, ticket, message)
                except (Forbidden, BadRequest, ValueError) as error:
                    # The customer blocked the bot or the chat is gone: retrying would never succeed.
                    log.warning("Ticket %s message %s is undeliverable: %s", ticket.id, message.id, error)
                    await self._tell_officers_undeliverable(bot, ticket, message, error)
                except TelegramError as error:
                    log.warning("Delivery of ticket %s paused, will retry: %s", ticket.id, error)
                    break
                else:
                    sent += 1
                self._pieces_sent.pop(message.id, None)
                await asyncio.to_thread(handoffs.mark_delivered, message.id)
            return sent

    async def _send_pieces(self, bot: Bot, ticket: Ticket, message: TicketMessage) -> None:
        pieces = render_outbox_message(ticket, message)
        for number in range(self._pieces_sent.get(message.id, 0), len(pieces)):
            await bot.send_message(int(ticket.customer), pieces[number])
            self._pieces_sent[message.id] = number + 1
            while len(self._pieces_sent) > _PIECES_KEPT:
                self._pieces_sent.pop(next(iter(self._pieces_sent)))

    async def _tell_officers_undeliverable(
        self, bot: Bot, ticket: Ticket, message: TicketMessage, error: Exception
    ) -> None:
        if message.role != "officer":  # a notice nobody wrote needs nobody told
            return
        text = tg.REPLY_UNDELIVERABLE.format(ticket=ticket.id, reason=as_html(str(error))[:200])
        await self.officers.notify(bot, ticket.id, text)

    async def run(self, bot: Bot, interval: float = 1.0, housekeeping_every: float = 60.0) -> None:
        """Deliver every `interval` seconds (at once when a group post is queued) and do housekeeping every
        `housekeeping_every`, until cancelled."""
        if self.maintenance is not None:
            self.maintenance.add_listener(self.officers.tell_closed_idle)
        next_housekeeping = time.monotonic()
        try:
            while True:
                try:
                    if time.monotonic() >= next_housekeeping:
                        next_housekeeping = time.monotonic() + housekeeping_every
                        await asyncio.to_thread(self.store.forget_updates_before, utcnow() - _SEEN_UPDATES_KEPT)
                    await self.deliver(bot)
                    await self.officers.flush(bot)
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    self.errors.log(log, "Outbox delivery failed; retrying", error)
                with suppress(TimeoutError):
                    await asyncio.wait_for(self.officers.queued.wait(), interval)
        finally:
            if self.maintenance is not None:
                self.maintenance.remove_listener(self.officers.tell_closed_idle)
