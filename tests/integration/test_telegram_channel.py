"""The Telegram channel's pieces that need no server: splitting and rendering, flood control, settings checks,
and the storage of tickets and their officers'-group posts (including across a restart)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr
from support.fake_bot_api import check_html
from support.workspace import make_settings
from telegram.error import Forbidden

from bot.core import phrases
from bot.core.business_hours import BusinessHours
from bot.core.flood_guard import FloodGuard, FloodVerdict
from bot.core.messages import Outcome, Reply, Source, Turn
from bot.core.tickets import Ticket, TicketMessage
from bot.services.conversation import ConversationService, SmsAnswer
from bot.storage.database import Database
from bot.storage.handoff_store import HandoffStore
from bot.storage.interaction_log import InteractionLog
from bot.telegram import phrases as tg
from bot.telegram.application import TelegramConfigError, check_settings
from bot.telegram.channel_store import TelegramChannelStore
from bot.telegram.error_report import ErrorReport
from bot.telegram.officers_group import OfficersGroup
from bot.telegram.outbox_courier import OutboxCourier
from bot.telegram.rendering import (
    TEXT_LIMIT,
    parse_feedback,
    render_outbox_message,
    render_reply,
    render_sms,
    render_ticket,
    split_text,
    telegram_length,
)

JAKARTA = ZoneInfo("Asia/Jakarta")


def visible(html: str) -> str:
    """What Telegram shows for an HTML message; fails on HTML Telegram would refuse."""
    error, text = check_html(html)
    assert error is None, error
    return text


# --- splitting ----------------------------------------------------------------------------------------
def test_short_text_is_one_piece() -> None:
    assert split_text("  Cek pulsa: *123#.  ") == ["Cek pulsa: *123#."]
    assert split_text("   ") == []


def test_long_text_is_split_at_paragraphs_and_words_within_the_limit() -> None:
    paragraph = "Kuota utama dipakai dulu, lalu kuota malam. " * 40
    text = "\n\n".join([paragraph.strip()] * 5)
    pieces = split_text(text, limit=1000)
    assert all(telegram_length(p) <= 1000 for p in pieces)
    assert " ".join(" ".join(pieces).split()) == " ".join(text.split())  # nothing lost or reordered
    assert all(p.endswith(".") for p in pieces)  # cut after a sentence, never inside a word


def test_text_without_spaces_is_cut_hard() -> None:
    pieces = split_text("x" * 9000)
    assert [len(p) for p in pieces] == [4096, 4096, 808]


def test_limit_counts_utf16_units_like_telegram() -> None:
    text = "😀" * 3000  # 6,000 UTF-16 units
    pieces = split_text(text)
    assert telegram_length("😀") == 2
    assert all(telegram_length(p) <= TEXT_LIMIT for p in pieces) and "".join(pieces) == text


# --- rendering ----------------------------------------------------------------------------------------
def answer(text: str, lang: str = "id") -> Reply:
    return Reply(Outcome.ANSWER, text, lang, 0.9, source=Source("faq", "cek-pulsa", "Cara cek <pulsa> & kuota"))


def test_answer_names_its_source_and_carries_three_buttons() -> None:
    [message] = render_reply(answer("Tekan *123# lalu <OK> & tunggu."), interaction_id=42)
    assert visible(message.html) == "Tekan *123# lalu <OK> & tunggu.\n\n📚 Sumber: Cara cek <pulsa> & kuota (cek-pulsa)"
    assert message.keyboard is not None
    buttons = [b for row in message.keyboard.inline_keyboard for b in row]
    assert [b.callback_data for b in buttons] == ["fb:1:42", "fb:0:42", "person"]
    assert [b.text for b in buttons] == [tg.BUTTON_HELPFUL["id"], tg.BUTTON_NOT_HELPFUL["id"], tg.BUTTON_PERSON["id"]]


def test_english_answer_uses_english_labels() -> None:
    [message] = render_reply(answer("Dial *123#.", "en"), interaction_id=1)
    assert "📚 Source:" in visible(message.html)
    assert message.keyboard is not None and message.keyboard.inline_keyboard[1][0].text == tg.BUTTON_PERSON["en"]


def test_refusal_has_no_buttons() -> None:
    [message] = render_reply(Reply(Outcome.REFUSE, "Maaf, tidak bisa.", "id", 1.0, reason="privacy"), 7)
    assert message.keyboard is None and visible(message.html) == "Maaf, tidak bisa."


def test_long_answer_is_split_with_source_and_buttons_on_the_last_piece() -> None:
    messages = render_reply(answer("Langkah <1> & seterusnya. " * 600), interaction_id=3)  # ~15,600 characters
    assert len(messages) == 4
    assert all(telegram_length(visible(m.html)) <= TEXT_LIMIT for m in messages)
    assert [m.keyboard is not None for m in messages] == [False, False, False, True]
    assert "(cek-pulsa)" in visible(messages[-1].html) and "(cek-pulsa)" not in visible(messages[0].html)


def test_feedback_callback_data_is_parsed_strictly() -> None:
    assert parse_feedback("fb:1:42") == (True, 42)
    assert parse_feedback("fb:0:7") == (False, 7)
    assert parse_feedback("fb:2:7") is None and parse_feedback("fb:1:x") is None and parse_feedback("person") is None


def make_ticket(*messages: tuple[str, str], name: str = "Budi <Admin>") -> Ticket:
    now = datetime(2026, 1, 5, 3, 0)
    return Ticket(
        12,
        "telegram",
        "555",
        name,
        "angry",
        "id",
        "open",
        now,
        now,
        tuple(_message(i, role, text) for i, (role, text) in enumerate(messages)),
    )


def _message(i: int, role: str, text: str) -> TicketMessage:
    return TicketMessage(i, 12, role, text, "", datetime(2026, 1, 5, 3, 0), role not in ("officer", "system"))


def test_ticket_post_shows_customer_reason_and_conversation_escaped() -> None:
    hours = BusinessHours(make_settings(Path("/nonexistent")))
    ticket = make_ticket(("customer", "Kenapa <b>pulsa</b> saya hilang?!"), ("customer", ""), ("bot", "Mohon maaf."))
    [post] = render_ticket(ticket, hours, now=datetime(2026, 1, 5, 10, 0, tzinfo=JAKARTA))
    text = visible(post)
    assert text.startswith("🆕 Tiket #12 · Telegram\nPelanggan: Budi <Admin>\nAlasan: pelanggan kecewa/marah")
    assert "👤 Pelanggan: Kenapa <b>pulsa</b> saya hilang?!\n🤖 Tanya: Mohon maaf." in text
    assert "👤 Pelanggan: \n" not in text and "Di luar jam kerja" not in text
    assert text.endswith(tg.TICKET_HOW_TO)


def test_ticket_post_after_hours_says_when_officers_start() -> None:
    hours = BusinessHours(make_settings(Path("/nonexistent")))
    [post] = render_ticket(make_ticket(("customer", "halo")), hours, now=datetime(2026, 1, 5, 23, 30, tzinfo=JAKARTA))
    assert "⏰ Di luar jam kerja (08.00–20.00 WIB); pelanggan menunggu balasan mulai 08.00 WIB." in visible(post)


def test_long_transcript_is_split_into_valid_posts() -> None:
    ticket = make_ticket(*[("customer", "Pesan panjang & <penting>. " * 30)] * 20)
    posts = render_ticket(ticket, BusinessHours(make_settings(Path("/nonexistent"))))
    assert len(posts) > 1 and all(telegram_length(visible(p)) <= TEXT_LIMIT for p in posts)
    assert visible(posts[0]).startswith("🆕 Tiket #12") and visible(posts[-1]).endswith(tg.TICKET_HOW_TO)


def test_outbox_messages_label_officers_and_pass_notices_as_they_are() -> None:
    ticket = make_ticket()
    [officer] = render_outbox_message(ticket, _message(1, "officer", "Sudah kami cek <ya>."))
    [notice] = render_outbox_message(ticket, _message(2, "system", "Tanya kembali."))
    assert visible(officer) == "🧑‍💼 Petugas: Sudah kami cek <ya>."
    assert visible(notice) == "Tanya kembali."


def test_sms_reply_shows_the_text_its_source_and_length() -> None:
    text = visible(render_sms(SmsAnswer("Tekan *123# & pilih Paket.", "daftar-paket-internet", 0.9)))
    assert text == "Tekan *123# & pilih Paket.\n\nSumber: daftar-paket-internet · 26/160 karakter"
    assert tg.SMS_NO_FAQ in visible(render_sms(SmsAnswer("Hubungi 188.", None, 0.1)))


# --- flood control ------------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_flood_guard_warns_once_then_ignores_until_the_window_passes() -> None:
    clock = Clock()
    guard = FloodGuard(limit=3, window=30, clock=clock)
    verdicts = []
    for _ in range(6):
        verdicts.append(guard.check(1))
        clock.now += 1
    assert verdicts == [FloodVerdict.ALLOW] * 3 + [FloodVerdict.WARN] + [FloodVerdict.IGNORE] * 2
    assert guard.check(2) is FloodVerdict.ALLOW  # other users are not affected

    clock.now += 29  # 30 s after the warning
    assert guard.check(1) is FloodVerdict.ALLOW


def test_flood_guard_counts_a_sliding_window() -> None:
    clock = Clock()
    guard = FloodGuard(limit=2, window=10, clock=clock)
    assert [guard.check(1), guard.check(1)] == [FloodVerdict.ALLOW] * 2
    clock.now += 10.5  # the first two have left the window
    assert [guard.check(1), guard.check(1), guard.check(1)] == [FloodVerdict.ALLOW] * 2 + [FloodVerdict.WARN]


def test_flood_control_can_be_turned_off() -> None:
    guard = FloodGuard(limit=0, window=10)
    assert {guard.check(1) for _ in range(100)} == {FloodVerdict.ALLOW}


# --- settings -----------------------------------------------------------------------------------------
def test_settings_without_a_token_fail_fast(tmp_path: Path) -> None:
    with pytest.raises(TelegramConfigError, match="TELEGRAM_BOT_TOKEN"):
        check_settings(make_settings(tmp_path))


def test_webhook_without_a_secret_fails_fast(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, telegram_bot_token=SecretStr("1:abc"), telegram_webhook_url="https://x.example/hook"
    )
    with pytest.raises(TelegramConfigError, match="TANYA_TELEGRAM_WEBHOOK_SECRET"):
        check_settings(settings)
    assert check_settings(settings.replaced(telegram_webhook_secret=SecretStr("s"))) == "1:abc"


# --- ticket storage -----------------------------------------------------------------------------------
def test_group_posts_map_to_their_ticket(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'tanya.db'}")
    ticket = HandoffStore(database).open_ticket("telegram", "555", "angry", "id", [Turn("customer", "parah!")])
    store = TelegramChannelStore(database)
    store.remember_post(-100, 11, ticket.id)
    store.remember_post(-100, 12, ticket.id)
    store.remember_post(-100, 12, ticket.id)  # remembering twice is harmless
    assert store.ticket_for_post(-100, 11) == ticket.id and store.ticket_for_post(-100, 12) == ticket.id
    assert store.ticket_for_post(-100, 13) is None and store.ticket_for_post(-200, 11) is None
    assert store.posts_of(ticket.id) == [(-100, 11), (-100, 12)]


def test_tickets_messages_outbox_and_posts_survive_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tanya.db'}"
    database = Database(url)
    handoffs = HandoffStore(database)
    ticket = handoffs.open_ticket(
        "telegram", "555", "asked_for_person", "id", [Turn("customer", "nomor saya 081234567890"), Turn("bot", "Baik.")]
    )
    handoffs.add_message(ticket.id, "customer", "masih menunggu")
    reply = handoffs.add_message(ticket.id, "officer", "Kami bantu.", author="Sari (tg:9)")
    TelegramChannelStore(database).remember_post(-100, 77, ticket.id)
    database.dispose()

    reopened = Database(url)
    handoffs = HandoffStore(reopened)
    found = handoffs.find_open("telegram", "555")
    assert found is not None and found.id == ticket.id
    assert [(m.role, m.text) for m in found.messages] == [
        ("customer", "nomor saya [PHONE ****90]"),
        ("bot", "Baik."),
        ("customer", "masih menunggu"),
        ("officer", "Kami bantu."),
    ]
    assert [(t.id, m.id) for t, m in handoffs.pending_deliveries("telegram")] == [(ticket.id, reply.id)]
    assert handoffs.pending_deliveries("web") == []
    assert TelegramChannelStore(reopened).ticket_for_post(-100, 77) == ticket.id

    handoffs.mark_delivered(reply.id)
    closed = handoffs.close(ticket.id, by="Sari (tg:9)", notice="Tanya kembali.")
    assert not closed.is_open and handoffs.find_open("telegram", "555") is None
    [(_, notice)] = handoffs.pending_deliveries("telegram")
    assert (notice.role, notice.text) == ("system", "Tanya kembali.")


# --- outbox delivery ----------------------------------------------------------------------------------
class StubBot:
    """Records send_message calls; chats in `blocked` answer like a user who blocked the bot."""

    def __init__(self, blocked: set[int]) -> None:
        self.blocked = blocked
        self.sent: list[tuple[int, str]] = []

    async def send_message(self, chat_id: int, text: str, **_kwargs: Any) -> SimpleNamespace:
        if chat_id in self.blocked:
            raise Forbidden("Forbidden: bot was blocked by the user")
        self.sent.append((chat_id, text))
        return SimpleNamespace(message_id=len(self.sent))


def test_courier_delivers_replies_and_notices_and_gives_up_on_a_blocked_customer(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    database = Database(settings.database_url)
    handoffs = HandoffStore(database)
    engine = SimpleNamespace(settings=settings)
    conversations = ConversationService(engine, handoffs, InteractionLog(database))  # type: ignore[arg-type]
    store = TelegramChannelStore(database)
    officers = OfficersGroup(-100, [9], store, BusinessHours(settings))
    courier = OutboxCourier(conversations, officers, store, 0, ErrorReport())
    answered = handoffs.open_ticket("telegram", "555", "angry", "id", [Turn("customer", "parah")])
    handoffs.add_message(answered.id, "officer", "Kami cek dulu.", author="Sari")
    blocked = handoffs.open_ticket("telegram", "666", "angry", "en", [Turn("customer", "awful")])
    web = handoffs.open_ticket("web", "session-1", "angry", "id", [Turn("customer", "parah")])
    for ticket in (answered, blocked, web):
        conversations.close_ticket(ticket.id, "Sari")
    bot = StubBot(blocked={666})

    assert asyncio.run(courier.deliver(bot)) == 2  # type: ignore[arg-type]
    assert [text for chat, text in bot.sent if chat == 555] == [
        "🧑‍💼 <b>Petugas</b>: Kami cek dulu.",
        phrases.BOT_BACK["id"],
    ]
    assert handoffs.pending_deliveries("telegram") == []  # the blocked customer's notice is given up, not retried
    assert len(handoffs.pending_deliveries("web")) == 1  # the web chat delivers its own


def test_a_failing_officers_group_does_not_fail_the_customer(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    database = Database(settings.database_url)
    ticket = HandoffStore(database).open_ticket("telegram", "555", "angry", "id", [Turn("customer", "parah")])
    store = TelegramChannelStore(database)
    officers = OfficersGroup(-100, [9], store, BusinessHours(settings))
    asyncio.run(officers.post_ticket(StubBot(blocked={-100}), ticket))  # type: ignore[arg-type]
    assert store.posts_of(ticket.id) == []
