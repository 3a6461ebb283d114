"""Delivers the handoff outbox to Telegram customers: officers' replies (typed in the group or in the web console)
and "Tanya is back" notices. Also closes idle tickets and forgets old handled-update records."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from telegram import Bot
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.conversation import ConversationService
from bot.database import utcnow
from bot.telegram import phrases as tg
from bot.telegram.channel_store import TelegramChannelStore
from bot.telegram.error_report import ErrorReport
from bot.telegram.officers_group import OfficersGroup
from bot.telegram.rendering import render_outbox_message

log = logging.getLogger(__name__)

CHANNEL = "telegram"
# Telegram gives up redelivering an update within a day; a week of records is plenty.
_SEEN_UPDATES_KEPT = timedelta(days=7)


class OutboxCourier:
    """Sends undelivered ticket messages of Telegram customers and marks them delivered."""

    def __init__(
        self,
        conversations: ConversationService,
        officers: OfficersGroup,
        store: TelegramChannelStore,
        idle_minutes: int,
        errors: ErrorReport,
    ) -> None:
        self.conversations = conversations
        self.officers = officers
        self.store = store
        self.idle_minutes = idle_minutes
        self.errors = errors
        self._lock = asyncio.Lock()

    async def deliver(self, bot: Bot) -> int:
        """Send what is waiting, oldest first; returns how many messages went out."""
        async with self._lock:
            handoffs = self.conversations.handoffs
            pending = await asyncio.to_thread(handoffs.pending_deliveries, CHANNEL)
            sent = 0
            for ticket, message in pending:
                try:
                    for piece in render_outbox_message(ticket, message):
                        await bot.send_message(int(ticket.customer), piece)
                except (Forbidden, BadRequest, ValueError) as error:
                    # The customer blocked the bot or the chat is gone: retrying would never succeed.
                    log.warning("Ticket %s message %s is undeliverable: %s", ticket.id, message.id, error)
                except TelegramError as error:
                    log.warning("Delivery of ticket %s paused, will retry: %s", ticket.id, error)
                    break
                else:
                    sent += 1
                await asyncio.to_thread(handoffs.mark_delivered, message.id)
            return sent

    async def close_idle_tickets(self, bot: Bot) -> None:
        """Close tickets idle past the setting; their customers get the notice through the outbox."""
        closed = await asyncio.to_thread(self.conversations.close_idle_tickets)
        for ticket in closed:
            if ticket.channel == CHANNEL:
                text = tg.TICKET_CLOSED_IDLE.format(ticket=ticket.id, minutes=self.idle_minutes)
                await self.officers.notify(bot, ticket.id, text)

    async def run(self, bot: Bot, interval: float = 1.0, housekeeping_every: float = 60.0) -> None:
        """Deliver every `interval` seconds and do housekeeping every `housekeeping_every`, until cancelled."""
        next_housekeeping = time.monotonic()
        while True:
            try:
                if time.monotonic() >= next_housekeeping:
                    next_housekeeping = time.monotonic() + housekeeping_every
                    await self.close_idle_tickets(bot)
                    await asyncio.to_thread(self.store.forget_updates_before, utcnow() - _SEEN_UPDATES_KEPT)
                await self.deliver(bot)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.errors.log(log, "Outbox delivery failed; retrying", error)
            await asyncio.sleep(interval)
