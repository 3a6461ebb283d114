"""The Telegram channel's handlers, all registered in `build_application`.

Each handler turns an update into a `Question`, calls the conversation service, and renders what comes back.
A gatekeeper runs before them and holds flooding users back.

Every update is stored before Telegram is told it arrived and marked done once handled (`UpdateInbox`), so a
restart handles what a killed process had not and a repeated delivery is answered once. Updates of different
chats are handled side by side, each chat's in order (`ChatOrderedProcessor`). A handler sends nothing itself: it
queues its reply (and a new ticket's group post) in the step that marks its update done (`ChatOutbox`), and the
courier sends it, retrying until Telegram has it.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from datetime import datetime
from typing import Any

from telegram import LinkPreviewOptions, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.core.flood_guard import FloodGuard, FloodVerdict
from bot.core.masking import mask_personal_data
from bot.core.messages import MessageRole, Question, Turn
from bot.core.tickets import Ticket
from bot.services.conversation import TurnResult
from bot.services.runtime import Runtime
from bot.settings import Settings
from bot.telegram import phrases as tg
from bot.telegram.channel_store import TelegramChannelStore
from bot.telegram.chat_order import ChatOrderedProcessor
from bot.telegram.chat_outbox import GroupPosting, Piece
from bot.telegram.error_report import ErrorReport
from bot.telegram.officers_group import CHANNEL, OfficersGroup, officer_name
from bot.telegram.outbox_courier import OutboxCourier
from bot.telegram.rendering import (
    FEEDBACK_PATTERN,
    PERSON_PATTERN,
    as_html,
    parse_feedback,
    person_keyboard,
    render_forwarded,
    render_reply,
    render_sms,
    render_ticket,
)
from bot.telegram.update_inbox import InboxApplication, UpdateInbox

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
# Turns kept per chat so a short follow-up ("kalau yang pascabayar?") is read against the previous question.
HISTORY_TURNS = 6
# Retries of a request Telegram answered with 429 RetryAfter (the rate limiter waits retry_after first).
RETRY_AFTER_RETRIES = 3
# The only updates the bot acts on; everything else is not even fetched.
ALLOWED_UPDATES = ["message", "callback_query"]
# Updates handled at once (of different chats). Answers are computed in worker threads, so more would mostly wait
# for a thread; enough that a chat waiting on Telegram (rate limits, a slow request) holds up no one else.
CONCURRENT_UPDATES = 16


class TelegramConfigError(ValueError):
    """A Telegram setting is missing or inconsistent."""


def check_settings(settings: Settings) -> str:
    """Fail fast on settings the bot cannot run without; returns the token."""
    if settings.telegram.bot_token is None or not settings.telegram.bot_token.get_secret_value().strip():
        raise TelegramConfigError("TELEGRAM_BOT_TOKEN is not set: create a bot with BotFather and set its token.")
    if settings.telegram.webhook_url and not settings.telegram.webhook_secret:
        raise TelegramConfigError(
            "TANYA_TELEGRAM_WEBHOOK_SECRET must be set with TANYA_TELEGRAM_WEBHOOK_URL (Telegram sends it back "
            "in a header so forged webhook requests can be refused)."
        )
    return settings.telegram.bot_token.get_secret_value()


def user_lang(update: Update) -> str:
    """The customer's language from their Telegram app: English when it is English, else Indonesian."""
    code = (update.effective_user.language_code or "") if update.effective_user else ""
    return "en" if code.lower().startswith("en") else "id"


class TelegramChannel:
    """The handlers over one `Runtime`, plus the outbox courier the runner keeps going beside them."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self.settings = settings
        self.conversations = runtime.conversations
        self.store = TelegramChannelStore(runtime.database)
        self.inbox = UpdateInbox(self.store)
        self.officers = OfficersGroup(
            settings.telegram.officers_chat_id,
            settings.telegram.officer_ids,
            self.store,
            runtime.engine.hours,
            settings.office.handoff_idle_minutes,
        )
        token = settings.telegram.bot_token.get_secret_value() if settings.telegram.bot_token else ""
        self.errors = ErrorReport((token,))
        self.courier = OutboxCourier(
            runtime.conversations,
            self.officers,
            self.store,
            settings.office.handoff_idle_minutes,
            self.errors,
            runtime.maintenance,
            runtime.leases,
        )
        self.flood = FloodGuard(settings.customers.flood_messages, settings.customers.flood_window_seconds)

    def build_application(self) -> Application[Any, Any, Any, Any, Any, Any]:
        """The python-telegram-bot Application with every handler registered (not yet started)."""
        token = check_settings(self.settings)
        if self.officers.chat_id is None:
            log.warning("TANYA_OFFICERS_CHAT_ID is not set: tickets are stored but not posted to an officers' group")
        elif not self.officers.officer_ids:
            log.warning("TANYA_OFFICER_IDS is empty: nobody can answer or close tickets from the officers' group")
        builder = (
            Application.builder()
            .token(token)
            .rate_limiter(AIORateLimiter(max_retries=RETRY_AFTER_RETRIES))
            .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)))
            .job_queue(None)
            .update_queue(self.inbox)
            .application_class(InboxApplication)
            .concurrent_updates(ChatOrderedProcessor(CONCURRENT_UPDATES))
        )
        if self.settings.telegram.base_url:
            builder = builder.base_url(self.settings.telegram.base_url)
        application = builder.build()

        private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
        application.add_handler(TypeHandler(Update, self.hold_back_flood), group=-1)
        application.add_handlers(
            [
                CommandHandler(["start", "help"], self.on_start, filters=private),
                CommandHandler("human", self.on_human, filters=private),
                CommandHandler("sms", self.on_sms, filters=private),
                MessageHandler(private & filters.TEXT & ~filters.COMMAND, self.on_text),
                MessageHandler(private & filters.COMMAND, self.on_start),
                MessageHandler(private & ~filters.TEXT, self.on_non_text),
                CallbackQueryHandler(self.on_feedback, pattern=FEEDBACK_PATTERN),
                CallbackQueryHandler(self.on_person_button, pattern=PERSON_PATTERN),
            ]
        )
        if self.officers.chat_id is not None:
            group = filters.Chat(self.officers.chat_id) & filters.UpdateType.MESSAGE
            application.add_handlers(
                [
                    CommandHandler("close", self.on_close, filters=group),
                    MessageHandler(group & filters.REPLY & filters.TEXT & ~filters.COMMAND, self.on_officer_reply),
                ]
            )
        application.add_error_handler(self.on_error)
        return application

    # --- gatekeeper -----------------------------------------------------------------------------
    async def hold_back_flood(self, update: Update, context: Context) -> None:
        """Answer a customer who floods once with a notice, then ignore them until the window passes."""
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None or chat.type != ChatType.PRIVATE or self.officers.is_officer(user.id):
            return
        verdict = self.flood.check(user.id)
        if verdict is FloodVerdict.ALLOW:
            return
        if verdict is FloodVerdict.WARN:
            await self._say(update, tg.FLOOD[user_lang(update)])
        raise ApplicationHandlerStop

    # --- customers ------------------------------------------------------------------------------
    async def on_start(self, update: Update, context: Context) -> None:
        """/start and /help (and unknown commands): what the bot can and cannot do."""
        await self._say(update, tg.welcome(user_lang(update)))

    async def on_text(self, update: Update, context: Context) -> None:
        """A typed question: answered, handed off, or (when an officer has the conversation) forwarded."""
        text = _message_text(update)
        question = self._question(update, context, text)
        result = await asyncio.to_thread(self.conversations.handle, question, _customer_name(update))
        await self._deliver_turn(update, context, question, result)

    async def on_human(self, update: Update, context: Context) -> None:
        """/human [text]: hand the conversation to a person."""
        await self._request_person(update, context, " ".join(context.args or []))

    async def on_person_button(self, update: Update, context: Context) -> None:
        """The "talk to a person" button under an answer."""
        query = update.callback_query
        assert query is not None
        result = await self._request_person(update, context, "")
        await query.answer(tg.ALREADY_WITH_OFFICER[user_lang(update)] if result.reply is None else None)

    async def on_feedback(self, update: Update, context: Context) -> None:
        """Helpful / not helpful: stored for the editors; the buttons give way to the person button."""
        query = update.callback_query
        assert query is not None
        parsed = parse_feedback(query.data or "")
        if parsed is not None:
            await asyncio.to_thread(self.conversations.record_feedback, parsed[1], parsed[0])
        lang = user_lang(update)
        await query.answer(tg.FEEDBACK_THANKS[lang])
        if query.message is not None:
            with suppress(TelegramError):  # e.g. the message is too old to edit; the feedback is stored anyway
                await query.edit_message_reply_markup(person_keyboard(lang))

    async def on_non_text(self, update: Update, context: Context) -> None:
        """Stickers, photos, voice notes, documents...: ask for a typed question."""
        await self._say(update, tg.NON_TEXT[user_lang(update)])

    # --- officers -------------------------------------------------------------------------------
    async def on_sms(self, update: Update, context: Context) -> None:
        """/sms <question> from an officer: a ready-to-send answer of at most 160 characters, with its FAQ id."""
        user = update.effective_user
        if user is None or not self.officers.is_officer(user.id):
            await self._say(update, tg.SMS_OFFICERS_ONLY)
            return
        question = " ".join(context.args or [])
        if not question:
            await self._say(update, tg.SMS_USAGE)
            return
        sms = await asyncio.to_thread(self.conversations.sms_answer, question)
        await self._queue(update, [Piece(render_sms(sms))])

    async def on_officer_reply(self, update: Update, context: Context) -> None:
        """A reply to a ticket post in the officers' group: relayed to the customer when an officer wrote it."""
        message, officer = _officer_message(update)
        ticket = await self._ticket_for_officer_reply(message)
        if ticket is None:
            return
        # Run again after a restart, a reply its first run stored is not stored (and sent) twice; the outbox and
        # the note below are safe to repeat.
        if not _replied_before_restart(ticket, officer, self.inbox.received_before_restart(update)):
            await asyncio.to_thread(self.conversations.officer_reply, ticket.id, message.text or "", officer)
        self.courier.wake()
        await self.officers.notify(context.bot, ticket.id, tg.REPLY_QUEUED.format(ticket=ticket.id), message.message_id)

    async def on_close(self, update: Update, context: Context) -> None:
        """/close as a reply to a ticket post: the officer ends the handoff and the bot is back."""
        message, officer = _officer_message(update)
        ticket = await self._ticket_for_officer_reply(message, usage=tg.CLOSE_USAGE)
        if ticket is None:
            return
        await asyncio.to_thread(self.conversations.close_ticket, ticket.id, officer)
        # Done once closed (the outbox delivers the customer's notice): run again, it would tell the group the ticket
        # was already closed.
        await self.inbox.mark_done(update)
        self.courier.wake()
        await self.officers.notify(
            context.bot, ticket.id, tg.TICKET_CLOSED_BY.format(ticket=ticket.id, officer=officer)
        )

    async def _ticket_for_officer_reply(self, message: Message, usage: str | None = None) -> Ticket | None:
        """The open ticket a group reply is about, if an officer wrote it; otherwise say why nothing happens."""
        ticket_id = await self.officers.ticket_for_reply(message)
        if ticket_id is None:
            if usage:
                await message.reply_text(as_html(usage))
            return None
        if message.from_user is None or not self.officers.is_officer(message.from_user.id):
            await message.reply_text(as_html(tg.OFFICERS_ONLY))
            return None
        ticket = await asyncio.to_thread(self.conversations.ticket, ticket_id)
        if not ticket.is_open:
            await message.reply_text(as_html(tg.TICKET_ALREADY_CLOSED.format(ticket=ticket_id)))
            return None
        return ticket

    # --- errors ---------------------------------------------------------------------------------
    async def on_error(self, update: object, context: Context) -> None:
        """Log (masked) and keep going; a customer whose message failed is told to try again."""
        if context.error is None:
            return
        update_id = update.update_id if isinstance(update, Update) else None
        self.errors.log(log, f"Telegram handler failed on update {update_id}", context.error)
        if isinstance(update, Update) and update.effective_chat and update.effective_chat.type == ChatType.PRIVATE:
            with suppress(Exception):  # the database may be what failed: the error is logged above
                await self._say(update, tg.HANDLER_ERROR[user_lang(update)])

    # --- shared steps ---------------------------------------------------------------------------
    async def _request_person(self, update: Update, context: Context, text: str) -> TurnResult:
        question = self._question(update, context, text)
        result = await asyncio.to_thread(self.conversations.request_person, question, _customer_name(update))
        if result.reply is None and update.callback_query is None:
            await self._say(update, tg.ALREADY_WITH_OFFICER[user_lang(update)])
        await self._deliver_turn(update, context, question, result, forward=False)
        return result

    async def _deliver_turn(
        self, update: Update, context: Context, question: Question, result: TurnResult, forward: bool = True
    ) -> None:
        _remember(context, question.text, result)
        ticket = result.ticket
        if result.reply is None:
            if forward and ticket is not None:
                forwarded = render_forwarded(ticket, ticket.messages[-1].text)
                await self._queue(update, [], self._group_posting(ticket.id, forwarded))
            return
        pieces = [
            Piece(out.html, out.keyboard.to_dict() if out.keyboard else None)
            for out in render_reply(result.reply, result.interaction_id)
        ]
        new_ticket = ticket if result.ticket_created else None
        posting = (
            self._group_posting(new_ticket.id, render_ticket(new_ticket, self.officers.hours)) if new_ticket else None
        )
        await self._queue(update, pieces, posting)

    async def _say(self, update: Update, text: str) -> None:
        """One of the bot's own plain-text sentences, to the update's chat."""
        await self._queue(update, [Piece(as_html(text))])

    async def _queue(self, update: Update, pieces: list[Piece], group_post: GroupPosting | None = None) -> None:
        """Queue a reply for the update's chat (and a post for the officers' group), marking the update done in the
        same step, and wake the courier."""
        chat_id = _chat_id(update)
        await asyncio.to_thread(self.courier.chats.add, chat_id, pieces, self.inbox.key_of(update), group_post)
        self.courier.wake()

    def _group_posting(self, ticket_id: int, pieces: list[str]) -> GroupPosting | None:
        if self.officers.chat_id is None:
            log.info("Ticket %s is not posted: no officers' group is configured", ticket_id)
            return None
        return GroupPosting(ticket_id, pieces)

    def _question(self, update: Update, context: Context, text: str) -> Question:
        history = tuple(context.chat_data.get("history", ())) if context.chat_data is not None else ()
        handled_as = self.inbox.key_of(update)  # run again after a restart, the turn is not recorded twice
        key = f"{CHANNEL}:{handled_as[0]}:{handled_as[1]}" if handled_as else None
        return Question(text=text, user=str(_chat_id(update)), channel=CHANNEL, history=history, key=key)


def build_application(runtime: Runtime) -> Application[Any, Any, Any, Any, Any, Any]:
    """The Telegram Application for `runtime`, every handler registered in one place."""
    return TelegramChannel(runtime).build_application()


def _remember(context: Context, text: str, result: TurnResult) -> None:
    if context.chat_data is None:
        return
    history: list[Turn] = context.chat_data.setdefault("history", [])
    if text.strip():
        history.append(Turn(MessageRole.CUSTOMER, text))
    if result.reply is not None:
        history.append(Turn(MessageRole.BOT, result.reply.text))
    del history[:-HISTORY_TURNS]


def _replied_before_restart(ticket: Ticket, officer: str, received_at: datetime | None) -> bool:
    """Whether a resumed officer's reply was stored by its first run (the process died before marking it done: a
    kill while the reply's FAQ draft was being made). The group's updates run one at a time, in order, so a reply
    by this officer to this ticket since the update arrived can only be this one's."""
    if received_at is None:
        return False
    return any(
        m.role == MessageRole.OFFICER and m.author == officer and m.created_at >= received_at for m in ticket.messages
    )


def _officer_message(update: Update) -> tuple[Message, str]:
    message = update.effective_message
    assert message is not None
    return message, officer_name(message.from_user) if message.from_user else ""


def _chat_id(update: Update) -> int:
    assert update.effective_chat is not None
    return update.effective_chat.id


def _message_text(update: Update) -> str:
    assert update.effective_message is not None
    return update.effective_message.text or ""


def _customer_name(update: Update) -> str:
    # Masked where it enters: a name may hold a phone number ("Budi 0812-3456-7890"), and it reaches the ticket,
    # the officers' group and the logs.
    return mask_personal_data(update.effective_user.full_name) if update.effective_user else ""
