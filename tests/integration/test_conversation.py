"""The channel-neutral conversation rules: hand off, stay silent while a person has the conversation, relay
officer replies through the outbox, come back after closing, and short SMS answers."""

from __future__ import annotations

from bot.core import phrases
from bot.core.messages import Outcome, Question, Turn
from bot.services.runtime import Runtime


def test_answer_is_logged_and_no_ticket_is_opened(demo_runtime: Runtime) -> None:
    result = demo_runtime.conversations.handle(Question("gmn cara cek pulsa sy", user="web:1", channel="web"))
    assert result.reply is not None and result.reply.outcome is Outcome.ANSWER
    assert result.ticket is None and result.interaction_id is not None
    assert demo_runtime.handoffs.find_open("web", "web:1") is None


def test_handoff_silence_officer_reply_and_return(demo_runtime: Runtime) -> None:
    conversations, handoffs = demo_runtime.conversations, demo_runtime.handoffs
    first = conversations.handle(Question("saya mau bicara dengan petugas", user="tg:7", channel="telegram"))
    assert first.reply is not None and first.reply.outcome is Outcome.HANDOFF and first.ticket_created
    ticket = first.ticket
    assert ticket is not None and ticket.reason == "asked_for_person"

    # While the ticket is open the bot is silent and the message joins the ticket.
    second = conversations.handle(Question("gmn cara cek pulsa sy", user="tg:7", channel="telegram"))
    assert second.reply is None and second.forwarded_to_officer
    assert handoffs.get(ticket.id).messages[-1].text == "gmn cara cek pulsa sy"

    conversations.officer_reply(ticket.id, "Halo, saya Rina dari Nusantel. Ada yang bisa dibantu?", officer="rina")
    pending = handoffs.pending_deliveries("telegram")
    assert [m.text for _, m in pending] == ["Halo, saya Rina dari Nusantel. Ada yang bisa dibantu?"]
    assert handoffs.pending_deliveries("web") == []
    handoffs.mark_delivered(pending[0][1].id)
    assert handoffs.pending_deliveries("telegram") == []

    closed = conversations.close_ticket(ticket.id, officer="rina")
    assert not closed.is_open
    notice = handoffs.pending_deliveries("telegram")
    assert len(notice) == 1 and notice[0][1].role == "system"
    after = conversations.handle(Question("gmn cara cek pulsa sy", user="tg:7", channel="telegram"))
    assert after.reply is not None and after.reply.outcome is Outcome.ANSWER


def test_request_person_opens_one_ticket(demo_runtime: Runtime) -> None:
    conversations = demo_runtime.conversations
    first = conversations.request_person(Question("", user="web:2", channel="web"))
    again = conversations.request_person(Question("", user="web:2", channel="web"))
    assert first.ticket_created and first.reply is not None and first.reply.reason == "asked_for_person"
    assert again.ticket is not None and first.ticket is not None and again.ticket.id == first.ticket.id
    assert len(demo_runtime.handoffs.list_tickets()) == 1


def test_ticket_texts_are_masked(demo_runtime: Runtime) -> None:
    result = demo_runtime.conversations.handle(
        Question("saya mau bicara dengan petugas, nomor saya 081234567890", user="web:3", channel="web")
    )
    assert result.ticket is not None
    assert all("081234567890" not in m.text for m in demo_runtime.handoffs.get(result.ticket.id).messages)


def test_sms_answer_fits_an_sms_and_names_the_entry(demo_runtime: Runtime) -> None:
    sms = demo_runtime.conversations.sms_answer("hp temen aku ilang, gmn cara blokir nomornya")
    assert len(sms.text) <= 160
    assert sms.source == "hp-hilang-blokir-nomor"


def test_every_channel_gets_messages_bounded_and_a_cut_is_said(demo_runtime: Runtime) -> None:
    conversations, limit = demo_runtime.conversations, demo_runtime.settings.customers.message_max_chars
    cut = conversations.handle(Question("gmn cara cek pulsa sy " + "x" * 5_000_000, user="tg:8", channel="telegram"))
    assert cut.reply is not None and cut.reply.text.endswith(phrases.MESSAGE_CUT["id"].format(limit=limit))
    cleaned = conversations.handle(Question("gmn cara cek pulsa \ud800", user="tg:8", channel="telegram"))
    assert cleaned.reply is not None and cleaned.reply.outcome is Outcome.ANSWER
    assert "karakter" not in cleaned.reply.text  # nothing was cut, so no note
    handed = conversations.request_person(
        Question("tolong \ud800", "tg:8", "telegram", (Turn("customer", "y" * 10_000 + "\ud800"),))
    )
    assert handed.ticket is not None
    stored = [m.text for m in demo_runtime.handoffs.get(handed.ticket.id).messages]
    assert all(len(text) <= limit and "\ud800" not in text for text in stored)


def test_a_channel_may_refuse_new_tickets_and_the_customer_is_told(demo_runtime: Runtime) -> None:
    conversations = demo_runtime.conversations
    refused = conversations.request_person(Question("petugas", "web:9", "web"), admit_ticket=lambda: False)
    assert refused.ticket is None and refused.reply is not None
    assert refused.reply.text == phrases.TOO_MANY_HANDOFFS["id"] and refused.reply.outcome is Outcome.DECLINE
    by_message = conversations.handle(
        Question("saya mau bicara dengan petugas", "web:9", "web"), admit_ticket=lambda: False
    )
    assert by_message.ticket is None and by_message.reply is not None
    assert by_message.reply.text == phrases.TOO_MANY_HANDOFFS["id"]
    assert demo_runtime.handoffs.find_open("web", "web:9") is None


def test_a_keyed_message_run_again_is_recorded_forwarded_and_handed_off_once(demo_runtime: Runtime) -> None:
    """Telegram runs an update again after a kill; its key makes the second run answer from the first's record."""
    conversations, handoffs, interactions = (
        demo_runtime.conversations,
        demo_runtime.handoffs,
        demo_runtime.interactions,
    )
    asked = Question("gmn cara cek pulsa sy", user="tg:8", channel="telegram", key="telegram:1:100")
    first, again = conversations.handle(asked), conversations.handle(asked)
    assert first.reply is not None and again.reply is not None and again.reply.text == first.reply.text
    assert again.interaction_id == first.interaction_id and len(interactions.interactions()) == 1

    handoff = Question("saya mau bicara dengan petugas", user="tg:8", channel="telegram", key="telegram:1:101")
    opened, reopened = conversations.handle(handoff), conversations.handle(handoff)
    assert opened.ticket is not None and reopened.ticket is not None and reopened.ticket.id == opened.ticket.id
    assert reopened.ticket_created  # the channel queues the ticket's post the first run never queued
    assert len(handoffs.list_tickets()) == 1 and len(interactions.interactions()) == 2

    follow_up = Question("halo?", user="tg:8", channel="telegram", key="telegram:1:102")
    assert conversations.handle(follow_up).forwarded_to_officer and conversations.handle(follow_up).forwarded_to_officer
    assert [m.text for m in handoffs.get(opened.ticket.id).messages].count("halo?") == 1

    # The same text in a new message (a new key) is a new turn.
    conversations.handle(Question("halo?", user="tg:8", channel="telegram", key="telegram:1:103"))
    assert [m.text for m in handoffs.get(opened.ticket.id).messages].count("halo?") == 2

    person = Question("", user="tg:9", channel="telegram", key="telegram:1:104")
    asked_twice = conversations.request_person(person), conversations.request_person(person)
    assert all(r.ticket_created and r.reply is not None for r in asked_twice)
    assert len(handoffs.list_tickets()) == 2
