"""Everything the Telegram channel shows: Telegram HTML, the 4,096-character limit and inline buttons.

The core returns structure (`Reply`, `Ticket`, `SmsAnswer`); only this module turns it into messages.
Long texts are split as plain text first and escaped per piece, so no piece ever cuts an HTML entity or tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import MessageLimit

from bot.core import phrases
from bot.core.business_hours import BusinessHours
from bot.core.messages import MessageRole, Outcome, Reply
from bot.core.tickets import Ticket, TicketMessage
from bot.services.conversation import SmsAnswer
from bot.telegram import phrases as tg

TEXT_LIMIT: int = MessageLimit.MAX_TEXT_LENGTH  # 4,096, counted by Telegram in UTF-16 code units

FEEDBACK_PATTERN = r"^fb:[01]:\d+$"
PERSON_CALLBACK = "person"
PERSON_PATTERN = rf"^{PERSON_CALLBACK}$"
_FEEDBACK = re.compile(FEEDBACK_PATTERN)


@dataclass(frozen=True)
class OutgoingMessage:
    """One Telegram message to send: HTML text and, on the last piece of an answer, its buttons."""

    html: str
    keyboard: InlineKeyboardMarkup | None = None


def telegram_length(text: str) -> int:
    """The length Telegram enforces limits on (UTF-16 code units: an emoji counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut plain text into pieces of at most `limit`, preferring paragraph, line, sentence, then word breaks."""
    pieces: list[str] = []
    rest = text.strip()
    while telegram_length(rest) > limit:
        fits = _longest_prefix(rest, limit)
        cut = _break_point(rest[:fits])
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def _longest_prefix(text: str, limit: int) -> int:
    """How many characters of `text` fit in `limit` UTF-16 units."""
    count = min(len(text), limit)
    while telegram_length(text[:count]) > limit:
        count -= max(1, (telegram_length(text[:count]) - limit) // 2)
    return count


def _break_point(window: str) -> int:
    # A break in the first half would leave a tiny piece; cut hard instead.
    for separator in ("\n\n", "\n", ". ", "? ", "! ", " "):
        at = window.rfind(separator)
        if at > len(window) // 2:
            return at + len(separator)
    return len(window)


def as_html(text: str) -> str:
    """Plain text made safe for parse_mode=HTML."""
    return escape(text, quote=False)


def framed(
    header_html: str, body: str, footer_html: str = "", limit: int = TEXT_LIMIT, header_break: str = "\n\n"
) -> list[str]:
    """HTML messages: the header on the first, the escaped body split to fit, the footer on the last."""
    reserve = telegram_length(header_html) + telegram_length(footer_html) + 4
    pieces = [as_html(p) for p in split_text(body, max(limit - reserve, limit // 2))] or [""]
    if header_html:
        pieces[0] = f"{header_html}{header_break}{pieces[0]}".strip()
    if footer_html:
        pieces[-1] = f"{pieces[-1]}\n\n{footer_html}".strip()
    return pieces


def render_reply(reply: Reply, interaction_id: int | None) -> list[OutgoingMessage]:
    """An answer with its source and the feedback/person buttons; other outcomes as plain text."""
    footer = ""
    if reply.source is not None:
        label = phrases.SOURCE_LABEL.get(reply.lang, phrases.SOURCE_LABEL["id"])
        footer = (
            f"<i>📚 {label}: {escape(reply.source.title, quote=False)} ({escape(reply.source.ref, quote=False)})</i>"
        )
    pieces = framed("", reply.text, footer)
    keyboard = None
    if reply.outcome is Outcome.ANSWER and interaction_id is not None:
        keyboard = answer_keyboard(reply.lang, interaction_id)
    return [OutgoingMessage(p, keyboard if i == len(pieces) - 1 else None) for i, p in enumerate(pieces)]


def answer_keyboard(lang: str, interaction_id: int) -> InlineKeyboardMarkup:
    """Helpful / not helpful / talk to a person, under an answer."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(tg.BUTTON_HELPFUL[lang], callback_data=f"fb:1:{interaction_id}"),
                InlineKeyboardButton(tg.BUTTON_NOT_HELPFUL[lang], callback_data=f"fb:0:{interaction_id}"),
            ],
            [InlineKeyboardButton(tg.BUTTON_PERSON[lang], callback_data=PERSON_CALLBACK)],
        ]
    )


def person_keyboard(lang: str) -> InlineKeyboardMarkup:
    """What stays under an answer once feedback is given: only the way to a person."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(tg.BUTTON_PERSON[lang], callback_data=PERSON_CALLBACK)]])


def parse_feedback(data: str) -> tuple[bool, int] | None:
    """(helpful, interaction id) from a feedback button's callback data."""
    if not _FEEDBACK.match(data):
        return None
    _, helpful, interaction_id = data.split(":")
    return helpful == "1", int(interaction_id)


def render_ticket(ticket: Ticket, hours: BusinessHours, now: datetime | None = None) -> list[str]:
    """A new ticket for the officers' group: who, why, when it will be picked up, and the recent conversation."""
    lines = [
        f"🆕 <b>Tiket #{ticket.id}</b> · Telegram",
        f"Pelanggan: {escape(ticket.customer_name or 'tanpa nama', quote=False)}",
        f"Alasan: {escape(phrases.reason_label(ticket.reason), quote=False)}",
    ]
    if not hours.is_open(now):
        zone = hours.zone_label()
        lines.append(
            f"⏰ Di luar jam kerja ({hours.start:02d}.00–{hours.end:02d}.00 {zone}); "
            f"pelanggan menunggu balasan mulai {hours.next_opening(now):%H.%M} {zone}."
        )
    transcript = "\n".join(
        f"{phrases.MESSAGE_ROLE_LABEL.get(m.role, m.role)}: {m.text}" for m in ticket.messages if m.text.strip()
    )
    return framed("\n".join(lines), transcript, f"<i>{tg.TICKET_HOW_TO}</i>")


def render_forwarded(ticket: Ticket, text: str) -> list[str]:
    """A customer's message to an open ticket, for the officers' group."""
    who = escape(ticket.customer_name or "pelanggan", quote=False)
    return framed(f"💬 <b>Tiket #{ticket.id}</b> · {who}:", text, header_break="\n")


def render_outbox_message(ticket: Ticket, message: TicketMessage) -> list[str]:
    """An officer's reply (labelled) or a system notice, for the customer."""
    if message.role == MessageRole.OFFICER:
        label = tg.OFFICER_LABEL.get(ticket.lang, tg.OFFICER_LABEL["id"])
        return framed(f"🧑‍💼 <b>{label}</b>:", message.text, header_break=" ")
    return framed("", message.text)


def render_sms(sms: SmsAnswer) -> str:
    """The /sms answer: the SMS text in a tap-to-copy block, then its source and length."""
    source = f"<b>{escape(sms.source, quote=False)}</b>" if sms.source else tg.SMS_NO_FAQ
    return f"<code>{escape(sms.text, quote=False)}</code>\n\nSumber: {source} · {len(sms.text)}/160 karakter"
