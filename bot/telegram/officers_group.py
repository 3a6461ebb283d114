"""The officers' Telegram group: new tickets and customers' follow-ups are posted there, and officers answer a
ticket by replying to any message the bot posted about it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from telegram import Bot, Message, ReplyParameters, User
from telegram.error import TelegramError

from bot.business_hours import BusinessHours
from bot.handoff_store import Ticket
from bot.masking import mask_personal_data
from bot.telegram.channel_store import TelegramChannelStore
from bot.telegram.rendering import as_html, render_forwarded, render_ticket

log = logging.getLogger(__name__)


def officer_name(user: User) -> str:
    """How an officer is recorded on a ticket: name (masked: it may hold a phone number) and Telegram user id."""
    return f"{mask_personal_data(user.full_name)} (tg:{user.id})"[:100]


class OfficersGroup:
    """Posts to the group (remembering which post is about which ticket) and knows who may answer."""

    def __init__(
        self, chat_id: int | None, officer_ids: Iterable[int], store: TelegramChannelStore, hours: BusinessHours
    ) -> None:
        self.chat_id = chat_id
        self.officer_ids = frozenset(officer_ids)
        self.store = store
        self.hours = hours

    def is_officer(self, user_id: int) -> bool:
        return user_id in self.officer_ids

    async def post_ticket(self, bot: Bot, ticket: Ticket) -> None:
        """Announce a new ticket with the recent conversation."""
        await self._post(bot, ticket.id, render_ticket(ticket, self.hours))

    async def post_customer_message(self, bot: Bot, ticket: Ticket, text: str) -> None:
        """Pass on what the customer wrote while an officer has the conversation."""
        await self._post(bot, ticket.id, render_forwarded(ticket, text))

    async def notify(self, bot: Bot, ticket_id: int, text: str, reply_to: int | None = None) -> None:
        """A short note about a ticket (reply relayed, ticket closed), itself answerable like a ticket post."""
        await self._post(bot, ticket_id, [as_html(text)], reply_to)

    async def ticket_for_reply(self, message: Message) -> int | None:
        """The ticket an officer's reply is about, when it replies to one of the bot's posts in the group."""
        replied = message.reply_to_message
        if self.chat_id is None or replied is None or message.chat_id != self.chat_id:
            return None
        return await asyncio.to_thread(self.store.ticket_for_post, self.chat_id, replied.message_id)

    async def _post(self, bot: Bot, ticket_id: int, pieces: list[str], reply_to: int | None = None) -> None:
        if self.chat_id is None:
            log.info("Ticket %s is not posted: no officers' group is configured", ticket_id)
            return
        reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        for piece in pieces:
            try:
                sent = await bot.send_message(self.chat_id, piece, reply_parameters=reply)
            except TelegramError as error:
                # The ticket is stored either way (the web console lists it); the customer must not see this.
                log.warning("Could not post about ticket %s to the officers' group: %s", ticket_id, error)
                return
            await asyncio.to_thread(self.store.remember_post, self.chat_id, sent.message_id, ticket_id)
            reply = None
