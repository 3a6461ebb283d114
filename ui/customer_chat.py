"""The public customer chat: answers with their source, feedback, "talk to a person", and officers' replies.

The conversation rules live in the core (`ConversationService`); this module turns a browser session into
`Question`s on channel "web" and renders the `Reply`s. Each browser is one customer: a random id kept in the
browser's storage (encrypted by Gradio), so a reload keeps the conversation and an open ticket's officer replies.
When an officer has the conversation, a timer delivers their replies from the handoff outbox.
The same rules are also offered as API endpoints: `/chat` (message in, reply text out), `/talk_to_person`
and `/officer_messages` (confirmed by id, like Telegram's getUpdates). An API caller is one customer per Gradio session; a call without a session is a customer of
its own, never a shared one. Messages and new tickets are limited per customer and per client address.
"""

from __future__ import annotations

import html
import os
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import gradio as gr

from bot.core import phrases
from bot.core.flood_guard import FloodGuard, FloodVerdict
from bot.core.language import detect_language
from bot.core.message_bounds import bound_text
from bot.core.messages import Channel, MessageRole, Outcome, Question, Reply, SourceKind, Turn
from bot.core.tickets import Ticket, TicketMessage
from bot.services.conversation import TurnResult, notice_reply
from bot.services.runtime import Runtime
from bot.settings import Settings
from ui import concurrency
from ui.page_style import CUSTOMER_HEADER

CHANNEL = Channel.WEB
POLL_SECONDS = 2.0
HISTORY_TURNS = 6
BROWSER_KEY = "tanya-customer"
# Conversations kept for reloads, least recently seen dropped first (an open ticket survives that and restarts:
# it is found again in the handoff store).
SESSIONS_KEPT = 5000
_BROWSER_ID = re.compile(r"^web-[A-Za-z0-9_-]{22}$")
_MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]<>#+!|~]")
EXAMPLES = (
    "Bagaimana cara cek sisa pulsa?",
    "Kuota saya cepat habis, kenapa ya?",
    "How do I activate roaming?",
    "Kartu SIM saya hilang",
)
FEEDBACK_THANKS = "Terima kasih atas masukan Anda! / Thank you for your feedback!"
FEEDBACK_SORRY = (
    "Terima kasih. Maaf jawabannya kurang membantu — tekan “Bicara dengan petugas” bila perlu. / "
    "Thanks. Sorry that didn't help — press “Talk to a person” if you need to."
)
WITH_OFFICER = (
    "🧑‍💼 **Anda terhubung dengan petugas** (tiket #{ticket}). Pesan Anda diteruskan kepada petugas; balasannya "
    "muncul di sini. / **You are connected to an officer** (ticket #{ticket}); their replies appear here."
)


@dataclass
class ChatSession:
    """One browser session's conversation, kept on the server (the chat display is rebuilt from it)."""

    customer: str = ""
    messages: list[dict[str, str]] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    interaction_at: dict[int, int] = field(default_factory=dict)  # message index -> interaction id
    ticket_id: int | None = None

    def take_over(self, other: ChatSession) -> None:
        """Become `other` (a reloaded page continuing the browser's conversation), field by field, in place."""
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(other, name))

    def add(self, role: str, content: str, interaction_id: int | None = None) -> None:
        if interaction_id is not None:
            self.interaction_at[len(self.messages)] = interaction_id
        self.messages.append({"role": role, "content": content})


def chat_markdown(text: str) -> str:
    """`text` in the customer's own chat, shown as written: USSD codes such as *123*1# must not turn into italics,
    nor tags into HTML; an answer's links stay links. (Text staff pages show from customers goes through the
    stricter `ui.markdown_text.plain_markdown`, which keeps links and images inert too.)"""
    return _MARKDOWN_SPECIAL.sub(r"\\\g<0>", text)


def render_reply(reply: Reply) -> str:
    """A reply as chat Markdown: the text, then where it came from (or that a person will take over)."""
    text = chat_markdown(reply.text)
    if reply.outcome is Outcome.HANDOFF:
        return f"{text}\n\n<span class='tanya-note'>🧑‍💼 Diteruskan ke petugas · Passed to an officer</span>"
    if reply.source is None:
        return text
    label = phrases.SOURCE_LABEL.get(reply.lang, phrases.SOURCE_LABEL["id"])
    ref = reply.source.ref if reply.source.kind == SourceKind.FAQ else reply.source.ref.split("#", 1)[-1]
    kind = "FAQ" if reply.source.kind == SourceKind.FAQ else "Dokumen"
    return (
        f"{text}\n\n<span class='tanya-source'>📄 {label}: {kind} · {html.escape(reply.source.title)} "
        f"<code>{html.escape(ref)}</code></span>"
    )


def render_delivery(message: TicketMessage) -> str:
    """An officer's reply or a notice from the handoff outbox, as chat Markdown."""
    if message.role == MessageRole.OFFICER:
        return f"<span class='tanya-officer'>🧑‍💼 Petugas · Officer</span>\n\n{chat_markdown(message.text)}"
    return f"<span class='tanya-note'>ℹ️ {html.escape(message.text)}</span>"


def browser_state_secret(settings: Settings) -> str:
    """The key browsers' customer ids are encrypted with: the setting, or a random key made once and kept in a
    file readable only by its owner (a key that changed at each start would make every customer a stranger)."""
    if settings.web.state_secret is not None:
        return settings.web.state_secret.get_secret_value()
    path = settings.web.state_key_file
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key
        raise RuntimeError(f"{path} is empty: delete it to make a new key, or set TANYA_WEB_STATE_SECRET") from None
    key = secrets.token_urlsafe(32)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


class ClientLimits:
    """How much one web customer and one client address may send: messages a minute, new tickets an hour."""

    def __init__(self, settings: Settings) -> None:
        self._per_customer = FloodGuard(settings.customers.flood_messages, settings.customers.flood_window_seconds)
        self._per_address = FloodGuard(settings.web.messages_per_address, 60.0)
        self._tickets = FloodGuard(settings.web.tickets_per_address, 3600.0)

    def admit_message(self, customer: str, address: str) -> bool:
        """Count one message; False when the customer or their address is over its limit."""
        by_customer = self._per_customer.check(customer)
        by_address = self._per_address.check(address)
        return by_customer is FloodVerdict.ALLOW and by_address is FloodVerdict.ALLOW

    def ticket_admitter(self, address: str) -> Callable[[], bool]:
        """What the conversation service asks before it opens a ticket for a customer at `address`."""
        return lambda: self._tickets.check(address) is FloodVerdict.ALLOW


class CustomerChat:
    """The web channel: turns browser sessions into questions for the conversation service."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.conversations = runtime.conversations
        self.limits = ClientLimits(runtime.settings)
        self._max_chars = runtime.settings.customers.message_max_chars
        self._sessions: OrderedDict[str, ChatSession] = OrderedDict()
        self._sessions_lock = threading.Lock()

    def resume(self, browser_id: str | None, page: ChatSession) -> str:
        """Bind a newly loaded page's session to its browser and return the browser's customer id (a new one when
        the browser has none or a bad one).

        After a reload the page gets the browser's conversation back; after a restart only its open ticket, so the
        officer's replies still arrive. The page's session object is filled in place, not replaced, so a message
        sent while the page was still loading is not lost.
        """
        customer = browser_id if browser_id and _BROWSER_ID.match(browser_id) else f"web-{secrets.token_urlsafe(16)}"
        with self._sessions_lock:
            kept = self._sessions.get(customer)
            if kept is not None and kept is not page and not page.messages and not page.customer:
                page.take_over(kept)
            page.customer = page.customer or customer
            self._sessions[customer] = page
            self._sessions.move_to_end(customer)
            while len(self._sessions) > SESSIONS_KEPT:
                self._sessions.popitem(last=False)
        if page.ticket_id is None:
            ticket = self.conversations.open_ticket_of(CHANNEL, page.customer)
            if ticket is not None:
                page.ticket_id = ticket.id
                if not page.messages:
                    _show_ticket(page, ticket)
        return customer

    # --- the conversation ------------------------------------------------------------------------------
    def send(self, text: str, session: ChatSession, customer: str, address: str = "") -> TurnResult:
        """Handle one customer message within the session (answer, or forward to the officer)."""
        session.customer = session.customer or customer
        # The session keeps the message as the core reads it (cleaned and cut), however long it came.
        shown = bound_text(text, self._max_chars).text
        if not self.limits.admit_message(session.customer, address):
            notice = notice_reply(phrases.TOO_MANY_MESSAGES, detect_language(shown))
            session.add("user", chat_markdown(shown))
            session.add("assistant", render_reply(notice))
            return TurnResult(reply=notice)
        question = Question(text, session.customer, CHANNEL, tuple(session.turns[-HISTORY_TURNS:]))
        # Recorded before answering, so a "talk to a person" pressed meanwhile hands this message over too.
        session.add("user", chat_markdown(shown))
        session.turns.append(Turn(MessageRole.CUSTOMER, shown))
        result = self.conversations.handle(question, admit_ticket=self.limits.ticket_admitter(address))
        if result.reply is not None:
            session.add("assistant", render_reply(result.reply), result.interaction_id)
            session.turns.append(Turn(MessageRole.BOT, result.reply.text))
        if result.ticket is not None:
            session.ticket_id = result.ticket.id
        return result

    def talk_to_person(self, session: ChatSession, customer: str, text: str = "", address: str = "") -> TurnResult:
        """The "talk to a person" button: open a ticket with the conversation so far."""
        session.customer = session.customer or customer
        question = Question(text, session.customer, CHANNEL, tuple(session.turns[-HISTORY_TURNS:]))
        result = self.conversations.request_person(question, admit_ticket=self.limits.ticket_admitter(address))
        if result.ticket is not None:
            session.ticket_id = result.ticket.id
        if result.reply is not None:
            session.add("assistant", render_reply(result.reply), result.interaction_id)
            session.turns.append(Turn(MessageRole.BOT, result.reply.text))
        elif result.ticket is not None:
            session.add("assistant", f"<span class='tanya-note'>{phrases.FORWARDED[result.ticket.lang]}</span>")
        return result

    def deliver(self, session: ChatSession) -> list[TicketMessage]:
        """Officer replies and notices waiting for this session's customer, added to its chat and marked delivered."""
        if not session.customer:
            return []
        waiting = [m for t, m in self.conversations.undelivered(CHANNEL) if t.customer == session.customer]
        for message in waiting:
            self.conversations.mark_delivered(message.id)
            session.add("assistant", render_delivery(message))
            role = MessageRole.OFFICER if message.role == MessageRole.OFFICER else MessageRole.BOT
            session.turns.append(Turn(role, message.text))
        if session.ticket_id is not None and self.conversations.open_ticket_of(CHANNEL, session.customer) is None:
            session.ticket_id = None
        return waiting

    def feedback(self, session: ChatSession, index: int, helpful: bool) -> bool:
        """Record helpful / not helpful for the answer at `index`; False when that message is not an answer."""
        interaction_id = session.interaction_at.get(index)
        if interaction_id is None:
            return False
        self.conversations.record_feedback(interaction_id, helpful)
        return True

    # --- API endpoints ---------------------------------------------------------------------------------
    def api_chat(self, message: str, request: gr.Request) -> str:
        """Answer one customer message and return the reply text (while an officer has the conversation, a notice)."""
        message = message if isinstance(message, str) else ""  # a raw API call may send null or a number
        result = self.send(message, ChatSession(), _customer_of(request), _address_of(request))
        if result.reply is not None:
            return result.reply.text
        lang = result.ticket.lang if result.ticket else "id"
        return phrases.FORWARDED[lang]

    def api_talk_to_person(self, message: str, request: gr.Request) -> str:
        """Hand this session's conversation to an officer; returns what the bot tells the customer."""
        message = message if isinstance(message, str) else ""
        result = self.talk_to_person(ChatSession(), _customer_of(request), message, _address_of(request))
        if result.reply is not None:
            return result.reply.text
        return phrases.FORWARDED[result.ticket.lang if result.ticket else "id"]

    def api_officer_messages(self, after: float | None, request: gr.Request) -> list[dict[str, object]]:
        """Officer replies and notices for this session, oldest first, each with its id. Like Telegram's getUpdates
        offset, `after` confirms: messages up to that id are marked delivered and not returned again, so a reply
        whose response was lost on the way comes again with the next call."""
        customer = _customer_of(request)
        confirmed = int(after) if isinstance(after, int | float) and after > 0 else 0
        waiting = [m for t, m in self.conversations.undelivered(CHANNEL) if t.customer == customer]
        for message in waiting:
            if message.id <= confirmed:
                self.conversations.mark_delivered(message.id)
        return [{"id": m.id, "text": m.text} for m in waiting if m.id > confirmed]

    # --- the page --------------------------------------------------------------------------------------
    def build(self) -> gr.Blocks:
        """The customer page, with its events and API endpoints."""
        with gr.Blocks(title="Tanya — Layanan Pelanggan", analytics_enabled=False) as page:
            session = gr.State(ChatSession())  # filled on load with the browser's conversation (see `resume`)
            browser_id = gr.BrowserState(
                None, storage_key=BROWSER_KEY, secret=browser_state_secret(self.runtime.settings)
            )
            gr.HTML(CUSTOMER_HEADER, elem_id="tanya-header")
            status = gr.Markdown("", visible=False, elem_id="tanya-status", elem_classes=["tanya-status"])
            chatbot = gr.Chatbot(
                label="Tanya",
                show_label=False,
                height=460,
                elem_id="tanya-chat",
                placeholder=(
                    "**Halo! Saya Tanya.** Tanyakan soal pulsa, kuota, paket, kartu SIM, tagihan atau roaming.\n\n"
                    "*Hello! I'm Tanya. Ask about credit, data, packages, SIM cards, bills or roaming.*"
                ),
                examples=[{"text": e} for e in EXAMPLES],
                feedback_options=("Like", "Dislike"),
                sanitize_html=True,
                buttons=["copy"],
                layout="bubble",
                group_consecutive_messages=False,
            )
            with gr.Row(equal_height=True):
                message = gr.Textbox(
                    show_label=False,
                    placeholder="Ketik pertanyaan Anda… / Type your question…",
                    scale=8,
                    max_length=2000,
                    autofocus=True,
                    elem_id="tanya-input",
                )
                send = gr.Button("Kirim / Send", variant="primary", scale=1, min_width=150, elem_id="tanya-send")
            with gr.Row():
                person = gr.Button(
                    "🙋 Bicara dengan petugas / Talk to a person", variant="secondary", elem_id="tanya-person"
                )
            gr.Markdown(
                "Jawaban membantu? Tekan 👍 atau 👎 di bawah jawaban. Jangan kirim PIN, OTP atau kata sandi. / "
                "Helpful? Use 👍 / 👎 under each answer. Never send your PIN, OTP or passwords.",
                elem_classes=["tanya-hint"],
            )
            timer = gr.Timer(POLL_SECONDS, active=False)

            def on_send(text: str, state: ChatSession, request: gr.Request) -> tuple[Any, ...]:
                if not text.strip():
                    return gr.skip(), gr.skip(), gr.skip(), gr.skip()
                self.send(text, state, _customer_of(request), _address_of(request))
                return "", state.messages, _status(state), gr.Timer(active=state.ticket_id is not None)

            def on_example(state: ChatSession, selected: gr.SelectData, request: gr.Request) -> tuple[Any, ...]:
                value = selected.value
                text = value.get("text", "") if isinstance(value, dict) else str(value)
                return on_send(text, state, request)

            def on_person(state: ChatSession, request: gr.Request) -> tuple[Any, ...]:
                self.talk_to_person(state, _customer_of(request), address=_address_of(request))
                return state.messages, _status(state), gr.Timer(active=state.ticket_id is not None)

            def on_tick(state: ChatSession) -> tuple[Any, ...]:
                delivered = self.deliver(state)
                still_open = state.ticket_id is not None
                if not delivered and still_open:
                    return gr.skip(), gr.skip(), gr.skip()
                return state.messages, _status(state), gr.Timer(active=still_open)

            def on_feedback(state: ChatSession, liked: gr.LikeData) -> None:
                index = liked.index if isinstance(liked.index, int) else liked.index[0]
                if isinstance(liked.liked, bool) and self.feedback(state, index, liked.liked):
                    gr.Info(FEEDBACK_THANKS if liked.liked else FEEDBACK_SORRY)

            def on_load(stored_id: str | None, state: ChatSession) -> tuple[Any, ...]:
                customer = self.resume(stored_id, state)
                return customer, state.messages, _status(state), gr.Timer(active=state.ticket_id is not None)

            def on_clear(state: ChatSession) -> None:
                state.messages.clear()
                state.turns.clear()
                state.interaction_at.clear()

            page.load(
                on_load,
                [browser_id, session],
                [browser_id, chatbot, status, timer],
                concurrency_limit=concurrency.CHAT,
                api_visibility="private",
            )
            outputs = [message, chatbot, status, timer]
            for trigger in (message.submit, send.click):
                trigger(
                    on_send,
                    [message, session],
                    outputs,
                    concurrency_limit=concurrency.CHAT,
                    api_visibility="private",
                    show_progress="minimal",
                )
            chatbot.example_select(
                on_example, [session], outputs, concurrency_limit=concurrency.CHAT, api_visibility="private"
            )
            person.click(
                on_person,
                [session],
                [chatbot, status, timer],
                concurrency_limit=concurrency.CHAT,
                api_visibility="private",
            )
            timer.tick(
                on_tick,
                [session],
                [chatbot, status, timer],
                concurrency_limit=concurrency.POLL,
                trigger_mode="once",
                api_visibility="private",
            )
            chatbot.clear(on_clear, [session], None, concurrency_limit=concurrency.FEEDBACK, api_visibility="private")
            chatbot.like(on_feedback, [session], None, concurrency_limit=concurrency.FEEDBACK, api_visibility="private")

            gr.api(self.api_chat, api_name="chat", concurrency_limit=concurrency.CHAT)
            gr.api(self.api_talk_to_person, api_name="talk_to_person", concurrency_limit=concurrency.CHAT)
            gr.api(self.api_officer_messages, api_name="officer_messages", concurrency_limit=concurrency.POLL)
        return page


def _show_ticket(page: ChatSession, ticket: Ticket) -> None:
    """After a restart the browser's conversation is gone from memory, but not from its open ticket: show what was
    said there, officers' replies already delivered included (the browser may never have shown them)."""
    for message in ticket.messages:
        if message.role == MessageRole.CUSTOMER:
            page.add("user", chat_markdown(message.text))
        elif message.role == MessageRole.BOT:
            page.add("assistant", chat_markdown(message.text))
        elif message.delivered and message.role in (MessageRole.OFFICER, MessageRole.SYSTEM):  # else: next poll
            page.add("assistant", render_delivery(message))
        if message.role in (MessageRole.CUSTOMER, MessageRole.BOT, MessageRole.OFFICER):
            page.turns.append(Turn(message.role, message.text))


def _customer_of(request: gr.Request) -> str:
    """The customer id of an API client's Gradio session; a call without a session is a customer of its own (a shared
    fallback id would put every such caller into one conversation and one ticket)."""
    return str(request.session_hash or f"api-{secrets.token_urlsafe(16)}")


def _address_of(request: gr.Request) -> str:
    """The client address the limits count against (the peer; behind a proxy, see web_trusted_proxies)."""
    client = getattr(request, "client", None)
    return str(getattr(client, "host", "") or "")


def _status(session: ChatSession) -> Any:
    if session.ticket_id is None:
        return gr.Markdown("", visible=False)
    return gr.Markdown(WITH_OFFICER.format(ticket=session.ticket_id), visible=True)
