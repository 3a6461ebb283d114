"""The web channel: rendering replies with their source, and the conversation rules as a browser session sees them."""

from __future__ import annotations

import stat
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from support.workspace import make_settings

from bot.core import phrases
from bot.core.messages import Outcome, Reply, Source
from bot.core.tickets import TicketMessage
from bot.services.runtime import Runtime
from ui.customer_chat import (
    CHANNEL,
    ChatSession,
    ClientLimits,
    CustomerChat,
    _address_of,
    _customer_of,
    browser_state_secret,
    chat_markdown,
    render_delivery,
    render_reply,
)


def test_answers_show_their_source_and_keep_ussd_codes_literal() -> None:
    reply = Reply(
        Outcome.ANSWER, "Tekan *123*1# lalu panggil.", "id", 0.9, Source("faq", "cek-pulsa", "Cara cek pulsa?")
    )
    shown = render_reply(reply)
    assert shown.startswith("Tekan \\*123\\*1\\# lalu panggil.")
    assert "📄 Sumber: FAQ · Cara cek pulsa? <code>cek-pulsa</code>" in shown
    english = Reply(Outcome.ANSWER, "Dial it.", "en", 0.9, Source("doc", "docs/tarif.md#Telepon", "Tarif <Prabayar>"))
    assert "Source: Dokumen · Tarif &lt;Prabayar&gt; <code>Telepon</code>" in render_reply(english)


def test_handoffs_say_a_person_takes_over_and_declines_have_no_source() -> None:
    handoff = Reply(Outcome.HANDOFF, "Saya teruskan ke petugas.", "id", 1.0, reason="asked_for_person")
    assert "Diteruskan ke petugas · Passed to an officer" in render_reply(handoff)
    assert render_reply(Reply(Outcome.DECLINE, "Halo!", "id", 1.0)) == "Halo\\!"


def test_markup_typed_by_people_is_shown_as_text() -> None:
    assert chat_markdown("<script>x</script> **b** [l](u)") == "\\<script\\>x\\</script\\> \\*\\*b\\*\\* \\[l\\](u)"
    officer = TicketMessage(1, 1, "officer", "Coba *#06#", "siti", datetime(2026, 1, 1), False)
    assert render_delivery(officer).endswith("Coba \\*\\#06\\#")
    notice = TicketMessage(2, 1, "system", "<b>Selesai</b>", "", datetime(2026, 1, 1), False)
    assert "&lt;b&gt;Selesai&lt;/b&gt;" in render_delivery(notice)


def test_a_session_is_answered_then_handed_off_then_silent_until_the_officer_replies(demo_runtime: Runtime) -> None:
    chat = CustomerChat(demo_runtime)
    session = ChatSession()
    answered = chat.send("gimana cara cek pulsa?", session, "browser-1")
    assert answered.reply is not None and answered.reply.source is not None
    assert [m["role"] for m in session.messages] == ["user", "assistant"]
    assert "cek-pulsa" in session.messages[1]["content"]

    chat.talk_to_person(session, "browser-1")
    assert session.ticket_id is not None
    ticket = demo_runtime.handoffs.get(session.ticket_id)
    assert (ticket.channel, ticket.customer) == (CHANNEL, "browser-1")
    assert "gimana cara cek pulsa?" in ticket.transcript()  # the officer sees the conversation so far

    silent = chat.send("halo? masih ada orang?", session, "browser-1")
    assert silent.reply is None and silent.forwarded_to_officer
    assert session.messages[-1] == {"role": "user", "content": "halo? masih ada orang?"}
    assert chat.deliver(session) == []

    demo_runtime.conversations.officer_reply(session.ticket_id, "Halo, saya Siti. Ada yang bisa dibantu?", "siti")
    other = ChatSession(customer="browser-2")
    assert chat.deliver(other) == []  # only the customer's own session gets it
    [delivered] = chat.deliver(session)
    assert delivered.text == "Halo, saya Siti. Ada yang bisa dibantu?"
    assert "Petugas · Officer" in session.messages[-1]["content"]
    assert chat.deliver(session) == []  # delivered once

    demo_runtime.conversations.close_ticket(session.ticket_id, "siti")
    [notice] = chat.deliver(session)
    assert notice.text == phrases.BOT_BACK[ticket.lang] and session.ticket_id is None
    assert chat.send("cara cek pulsa", session, "browser-1").reply is not None  # the bot answers again


def test_feedback_is_recorded_for_answers_only(demo_runtime: Runtime) -> None:
    chat = CustomerChat(demo_runtime)
    session = ChatSession()
    chat.send("bagaimana cara cek kuota?", session, "browser-3")
    assert chat.feedback(session, 0, True) is False  # the customer's own message
    assert chat.feedback(session, 1, False) is True
    [interaction] = [i for i in demo_runtime.interactions.interactions() if i.question == "bagaimana cara cek kuota?"]
    assert interaction.helpful is False


def test_a_reload_brings_back_the_browsers_conversation(demo_runtime: Runtime) -> None:
    chat = CustomerChat(demo_runtime)
    first = ChatSession()
    browser_id = chat.resume(None, first)
    assert browser_id.startswith("web-") and first.customer == browser_id and first.messages == []
    chat.send("gimana cara cek pulsa?", first, "ignored-session-hash")
    assert first.customer == browser_id  # the browser's id, not Gradio's per-page session

    reloaded = ChatSession()
    assert chat.resume(browser_id, reloaded) == browser_id
    assert reloaded.customer == browser_id and reloaded.messages == first.messages and len(reloaded.messages) == 2
    for stored in (None, "", "web-short", "someone-else's-id", browser_id + "x"):
        other = ChatSession()
        assert chat.resume(stored, other) != browser_id and other.messages == []


def test_a_message_sent_while_the_page_loads_is_kept(demo_runtime: Runtime) -> None:
    chat = CustomerChat(demo_runtime)
    browser_id = chat.resume(None, ChatSession())
    page = ChatSession()
    chat.send("gimana cara cek pulsa?", page, "session-hash")  # before the page's load event ran
    assert chat.resume(browser_id, page) == browser_id
    assert len(page.messages) == 2 and page.customer == "session-hash"


@pytest.mark.fault(
    "a server restart while an officer's reply is on its way to a browser",
    "the ticket's conversation and the reply are shown on the next load",
)
def test_after_a_restart_the_open_ticket_and_its_officer_reply_come_back(demo_runtime: Runtime) -> None:
    before = CustomerChat(demo_runtime)
    session = ChatSession()
    browser_id = before.resume(None, session)
    before.talk_to_person(session, "ignored", "kartu saya terblokir")
    assert session.ticket_id is not None
    demo_runtime.conversations.officer_reply(session.ticket_id, "Halo, kami bantu buka blokirnya.", "siti")

    restarted = CustomerChat(demo_runtime)  # a new server process: its kept conversations are gone
    resumed = ChatSession()
    restarted.resume(browser_id, resumed)
    assert resumed.ticket_id == session.ticket_id
    assert [m["role"] for m in resumed.messages] == ["user", "assistant"]  # the ticket's conversation so far
    assert "kartu saya terblokir" in resumed.messages[0]["content"]
    delivered = restarted.deliver(resumed)
    assert [m.text for m in delivered] == ["Halo, kami bantu buka blokirnya."]
    assert "kami bantu buka blokirnya" in resumed.messages[-1]["content"]

    # The reply is marked delivered; if the browser never showed it (closed, then the server restarted), it is
    # still there on the next load.
    again = ChatSession()
    CustomerChat(demo_runtime).resume(browser_id, again)
    assert "kami bantu buka blokirnya" in again.messages[-1]["content"]
    assert [t.role for t in again.turns] == ["customer", "bot", "officer"]


def test_the_browser_id_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, web_state_key_file=tmp_path / "var" / "web-state.key")
    key = browser_state_secret(settings)
    assert len(key) >= 32 and browser_state_secret(settings) == key  # the same after a restart
    assert stat.S_IMODE((tmp_path / "var" / "web-state.key").stat().st_mode) == 0o600
    configured = make_settings(tmp_path, web_state_secret="from-the-environment")
    assert browser_state_secret(configured) == "from-the-environment"


def test_a_lone_surrogate_or_a_huge_message_keeps_the_session_working(demo_runtime: Runtime) -> None:
    chat = CustomerChat(demo_runtime)
    session = ChatSession()
    first = chat.send("cek pulsa \ud800", session, "browser-s")
    assert first.reply is not None and first.reply.outcome is Outcome.ANSWER
    huge = chat.send("a" * 5_000_000, session, "browser-s")
    assert huge.reply is not None and phrases.MESSAGE_CUT["id"].split(":")[0] in huge.reply.text
    assert all(len(m["content"]) < 10_000 and "\ud800" not in m["content"] for m in session.messages)
    handed = chat.talk_to_person(session, "browser-s")  # the history holds both messages, as the core read them
    assert handed.ticket is not None
    assert all(len(m.text) <= 2000 for m in demo_runtime.handoffs.get(handed.ticket.id).messages)


def test_one_address_may_open_only_so_many_tickets_and_send_only_so_many_messages(demo_runtime: Runtime) -> None:
    settings = demo_runtime.settings.replaced(web_tickets_per_address=2, web_messages_per_address=3)
    chat = CustomerChat(demo_runtime)
    chat.limits = ClientLimits(settings)
    opened = [chat.talk_to_person(ChatSession(), f"api-{n}", address="10.0.0.1") for n in range(3)]
    assert [r.ticket is not None for r in opened] == [True, True, False]
    assert opened[2].reply is not None and opened[2].reply.text == phrases.TOO_MANY_HANDOFFS["id"]
    assert chat.talk_to_person(ChatSession(), "api-x", address="10.0.0.2").ticket is not None  # another address
    sent = [chat.send("cara cek pulsa", ChatSession(), f"api-m{n}", "10.0.0.3") for n in range(4)]
    assert [r.reply.text == phrases.TOO_MANY_MESSAGES["id"] for r in sent if r.reply] == [False, False, False, True]


def test_a_request_without_a_session_is_a_customer_of_its_own() -> None:
    unnamed = SimpleNamespace(session_hash=None, client=SimpleNamespace(host="10.0.0.1"))
    assert _customer_of(unnamed) != _customer_of(unnamed)  # type: ignore[arg-type]
    assert _customer_of(SimpleNamespace(session_hash="abc")) == "abc"  # type: ignore[arg-type]
    assert _address_of(unnamed) == "10.0.0.1"  # type: ignore[arg-type]
