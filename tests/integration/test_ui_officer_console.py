"""The officer console: the queue across channels (newest first), transcripts with numbers masked, reply and close."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import gradio as gr
import pytest
from support.markdown import HOSTILE, as_read, assert_inert

from bot.core.messages import Question, Turn
from bot.core.tickets import Ticket, TicketMessage
from bot.services.runtime import Runtime
from bot.services.staff_accounts import StaffAccounts, hash_password
from ui.officer_console import OfficerConsole, customer_label, ticket_heading, transcript_messages

NOW = datetime(2026, 1, 5, 3, 0)


def test_customers_are_labelled_without_raw_ids_or_numbers() -> None:
    web = Ticket(1, "web", "0a1b2c3d4e5f-session", "", "angry", "id", "open", NOW, NOW, ())
    telegram = Ticket(2, "telegram", "777", "Rina 081234567890", "angry", "id", "open", NOW, NOW, ())
    assert customer_label(web) == "Pengunjung web 0a1b2c"
    assert customer_label(telegram) == "Rina [PHONE ****90]"


def test_transcripts_show_who_said_what() -> None:
    messages = (
        TicketMessage(1, 1, "customer", "NIK saya 3201234567890001", "", NOW, True),
        TicketMessage(2, 1, "bot", "Saya teruskan ke petugas.", "", NOW, True),
        TicketMessage(3, 1, "officer", "Baik, *123# ya.", "siti", NOW, False),
    )
    bubbles = transcript_messages(Ticket(1, "telegram", "7", "", "account_data", "id", "open", NOW, NOW, messages))
    assert bubbles[0] == {"role": "user", "content": "NIK saya \\[NIK \\*\\*\\*\\*01\\]"}
    assert bubbles[1]["content"].startswith("**🤖 Tanya**")
    assert (
        bubbles[2]["content"].startswith("**🧑‍💼 Petugas · siti** · ⏳ belum terkirim")
        and "\\*123\\#" in bubbles[2]["content"]
    )


def test_a_customers_name_and_messages_show_as_written_not_as_links_or_html() -> None:
    messages = (
        TicketMessage(1, 1, "customer", HOSTILE, "", NOW, True),
        TicketMessage(2, 1, "officer", f"Anda menulis: {HOSTILE}", "siti", NOW, True),
    )
    ticket = Ticket(1, "telegram", "7", HOSTILE, "angry", "id", "open", NOW, NOW, messages)
    heading = ticket_heading(ticket)
    assert heading.startswith("### Tiket #1 · Telegram · ") and len(heading.splitlines()) == 2
    shown = [heading, *(bubble["content"] for bubble in transcript_messages(ticket))]
    for markdown in shown:
        assert_inert(markdown)
        assert HOSTILE in as_read(markdown)


def test_the_queue_lists_open_tickets_from_every_channel_newest_first(demo_runtime: Runtime) -> None:
    conversations = demo_runtime.conversations
    first = conversations.request_person(
        Question("", "111", "telegram", (Turn("customer", "tagihan saya salah"),))
    ).ticket
    second = conversations.request_person(Question("", "web-9", "web", (Turn("customer", "kartu hilang"),))).ticket
    assert first is not None and second is not None
    console = OfficerConsole(demo_runtime, StaffAccounts({}))
    assert console.queue()["#"].tolist() == [second.id, first.id]
    conversations.officer_reply(first.id, "Kami cek tagihannya.", "siti")
    assert console.queue()["#"].tolist() == [first.id, second.id]  # the latest activity comes first
    assert console.queue()["Kanal / Channel"].tolist() == ["Telegram", "Web"]


def test_the_queue_shows_a_customers_name_as_plain_text(demo_runtime: Runtime) -> None:
    question = Question("", "333", "telegram", (Turn("customer", "halo"),))
    assert demo_runtime.conversations.request_person(question, customer_name=HOSTILE).ticket is not None
    console = OfficerConsole(demo_runtime, StaffAccounts({}))
    assert console.queue()["Pelanggan / Customer"].tolist() == [HOSTILE]  # not Markdown-escaped: the table is text
    with gr.Blocks() as page:
        console.build(page)
    [queue] = [block for block in page.blocks.values() if getattr(block, "elem_id", None) == "officer-queue"]
    assert isinstance(queue, gr.Dataframe) and queue.datatype == "str"  # Gradio shows "str" cells HTML-escaped


def test_replies_and_closing_go_through_the_conversation_rules(demo_runtime: Runtime) -> None:
    ticket = demo_runtime.conversations.request_person(
        Question("", "222", "telegram", (Turn("customer", "halo"),))
    ).ticket
    assert ticket is not None
    console = OfficerConsole(demo_runtime, StaffAccounts({}))
    with pytest.raises(gr.Error, match="empty"):
        console.reply(ticket.id, "   ", "siti")
    answered = console.reply(ticket.id, "Halo, ada yang bisa dibantu?", "siti")
    assert answered.messages[-1].role == "officer" and not answered.messages[-1].delivered  # waits for the channel
    assert [m.text for _, m in demo_runtime.handoffs.pending_deliveries("telegram")] == ["Halo, ada yang bisa dibantu?"]
    assert not console.close(ticket.id, "siti").is_open
    with pytest.raises(gr.Error, match="already closed"):
        console.reply(ticket.id, "masih di sana?", "siti")
    with pytest.raises(gr.Error, match="does not exist"):
        console.close(9999, "siti")


def test_api_calls_need_the_officer_role(demo_runtime: Runtime) -> None:
    accounts = StaffAccounts(
        {"eka": hash_password("sandi-editor-eka"), "budi": hash_password("sandi-petugas-budi")},
        {"eka": ["editor"], "budi": ["officer"]},
    )
    console = OfficerConsole(demo_runtime, accounts)
    with pytest.raises(gr.Error, match="Access denied"):
        console.api_tickets(SimpleNamespace(username="eka"))  # type: ignore[arg-type]
    answer = console.api_quick_answer("cara cek pulsa", SimpleNamespace(username="budi"))  # type: ignore[arg-type]
    assert len(answer["text"]) <= 160 and answer["source"] == "cek-pulsa"
