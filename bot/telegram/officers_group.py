"""The officers' Telegram group: new tickets and customers' follow-ups are posted there, and officers answer a
ticket by replying to any message the bot posted about it.

Posts are queued in the database (`GroupOutbox`) and sent by `flush`, which the courier runs whenever something
is queued and every second besides: a handler never waits on the group (Telegram allows a group 20 posts a
minute), and a post the group could not take is retried until it can.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from telegram import Bot, Message, ReplyParameters, User
from telegram.error import BadRequest, RetryAfter, TelegramError

from bot.core.business_hours import BusinessHours
from bot.core.masking import mask_personal_data
from bot.core.messages import Channel, MessageRole
from bot.core.tickets import Ticket
from bot.storage.handoff_store import HandoffStore
from bot.telegram import phrases as tg
from bot.telegram.channel_store import TelegramChannelStore
from bot.telegram.group_outbox import GroupOutbox, GroupPost
from bot.telegram.rendering import as_html, render_forwarded, render_ticket
from bot.telegram.retry_policy import retry_after_seconds

log = logging.getLogger(__name__)

CHANNEL = Channel.TELEGRAM
# Telegram's answers to a post whose content it will never take; any other failure is retried.
CONTENT_ERRORS = ("can't parse entities", "message is too long", "message text is empty", "text must be non-empty")


def officer_name(user: User) -> str:
    """How an officer is recorded on a ticket: name (masked: it may hold a phone number) and Telegram user id."""
    return f"{mask_personal_data(user.full_name)} (tg:{user.id})"[:100]


class OfficersGroup:
    """Queues posts to the group and sends them (remembering which post is about which ticket); knows who may
    answer."""

    def __init__(
        self,
        chat_id: int | None,
        officer_ids: Iterable[int],
        store: TelegramChannelStore,
        hours: BusinessHours,
        idle_minutes: int = 0,
    ) -> None:
        self.chat_id = chat_id
        self.officer_ids = frozenset(officer_ids)
        self.store = store
        self.hours = hours
        self.idle_minutes = idle_minutes
        self.outbox = GroupOutbox(store.db)
        self.queued = asyncio.Event()  # set when anything is queued for Telegram, so the courier sends it at once
        self._flush_lock = asyncio.Lock()
        self._unreachable = False

    def is_officer(self, user_id: int) -> bool:
        return user_id in self.officer_ids

    async def post_ticket(self, bot: Bot, ticket: Ticket) -> None:
        """Announce a new ticket with the recent conversation."""
        await self._queue(ticket.id, render_ticket(ticket, self.hours))

    async def post_customer_message(self, bot: Bot, ticket: Ticket, text: str) -> None:
        """Pass on what the customer wrote while an officer has the conversation."""
        await self._queue(ticket.id, render_forwarded(ticket, text))

    async def notify(self, bot: Bot, ticket_id: int, text: str, reply_to: int | None = None) -> None:
        """A short note about a ticket (reply relayed, ticket closed), itself answerable like a ticket post."""
        await self._queue(ticket_id, [as_html(text)], reply_to)

    def tell_closed_idle(self, tickets: list[Ticket]) -> None:
        """The ticket maintenance closed these (called from its thread): note the Telegram ones in the group."""
        if self.chat_id is None:
            return
        for ticket in tickets:
            if ticket.channel == CHANNEL:
                text = tg.TICKET_CLOSED_IDLE.format(ticket=ticket.id, minutes=self.idle_minutes)
                self.outbox.add(ticket.id, [as_html(text)])

    async def ticket_for_reply(self, message: Message) -> int | None:
        """The ticket an officer's reply is about, when it replies to one of the bot's posts in the group."""
        replied = message.reply_to_message
        if self.chat_id is None or replied is None or message.chat_id != self.chat_id:
            return None
        return await asyncio.to_thread(self.store.ticket_for_post, self.chat_id, replied.message_id)

    async def flush(self, bot: Bot, now: datetime | None = None, until: Callable[[], bool] | None = None) -> int:
        """Send what waits, oldest first, until the group fails (the rest waits its turn) or `until()` is true;
        returns pieces sent. `now` is for tests: the time the pauses after failures are measured against."""
        if self.chat_id is None:
            return 0
        sent = 0
        async with self._flush_lock:
            while not (until is not None and until()):
                if (post := await asyncio.to_thread(self.outbox.next_due, now)) is None:
                    break
                if not await self._send(bot, post):
                    break
                sent += 1
        return sent

    async def _send(self, bot: Bot, post: GroupPost) -> bool:
        assert self.chat_id is not None
        reply = ReplyParameters(post.reply_to, allow_sending_without_reply=True) if post.reply_to else None
        try:
            message = await bot.send_message(self.chat_id, post.text, reply_parameters=reply)
        except BadRequest as error:
            if any(marker in str(error).lower() for marker in CONTENT_ERRORS):
                log.error("Telegram refused a post about ticket %s, given up: %s", post.ticket_id, error)
                await asyncio.to_thread(self.outbox.drop, post)
                note = tg.POST_REFUSED.format(ticket=post.ticket_id, reason=str(error)[:200])
                await asyncio.to_thread(
                    HandoffStore(self.store.db).add_message, post.ticket_id, MessageRole.NOTE, note, "Tanya"
                )
                return True
            return await self._failed(post, error)
        except RetryAfter as error:
            return await self._failed(post, error, retry_after_seconds(error))
        except TelegramError as error:
            return await self._failed(post, error)
        await asyncio.to_thread(self.outbox.posted, post, self.chat_id, message.message_id)
        if self._unreachable:
            self._unreachable = False
            log.info("The officers' group is reachable again; waiting posts are being sent")
        return True

    async def _failed(self, post: GroupPost, error: TelegramError, retry_after: float | None = None) -> bool:
        pause = await asyncio.to_thread(self.outbox.failed, post, str(error), retry_after)
        if not self._unreachable:  # once per outage, not once per try
            self._unreachable = True
            log.warning(
                "Could not post about ticket %s to the officers' group (%s); it waits and is tried again in %.0f s "
                "(tickets are in the web console meanwhile)",
                post.ticket_id,
                error,
                pause.total_seconds(),
            )
        return False

    async def _queue(self, ticket_id: int, pieces: list[str], reply_to: int | None = None) -> None:
        if self.chat_id is None:
            log.info("Ticket %s is not posted: no officers' group is configured", ticket_id)
            return
        await asyncio.to_thread(self.outbox.add, ticket_id, pieces, reply_to)
        self.queued.set()
