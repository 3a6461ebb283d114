"""Conversations across channels: answer, or hand off and stay silent while a person has the conversation.

Telegram and the web chat both call `ConversationService`; neither re-implements handoff or ticket rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from bot.core import phrases
from bot.core.language import detect_language
from bot.core.message_bounds import bound_question, clean_text
from bot.core.messages import Channel, HandoffReason, MessageRole, Outcome, Question, Reply, Turn
from bot.core.sms_answer import shorten
from bot.core.tickets import Ticket, TicketMessage, TicketStatus
from bot.engine import AnswerEngine
from bot.storage.faq_drafts import DraftStore
from bot.storage.handoff_store import HandoffStore
from bot.storage.interaction_log import InteractionLog
from bot.storage.turn_keys import HandledTurn, TurnKeys

# How much of the conversation an officer sees with a new ticket.
TRANSCRIPT_TURNS = 6
# The reason of a reply refused by a channel's limit (too many messages or new tickets).
NOTICE_REASON = "limited"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TurnResult:
    """What happened to one customer message."""

    reply: Reply | None  # None when a person has the conversation and the bot stays silent
    interaction_id: int | None = None
    ticket: Ticket | None = None
    ticket_created: bool = False

    @property
    def forwarded_to_officer(self) -> bool:
        return self.reply is None and self.ticket is not None


@dataclass(frozen=True)
class SmsAnswer:
    text: str  # at most 160 characters
    source: str | None
    confidence: float


class ConversationService:
    """The channel-neutral conversation rules on top of the answer engine."""

    def __init__(
        self,
        engine: AnswerEngine,
        handoffs: HandoffStore,
        interactions: InteractionLog,
        drafts: DraftStore | None = None,
    ) -> None:
        self.engine = engine
        self.handoffs = handoffs
        self.interactions = interactions
        self.drafts = drafts
        self.turn_keys = TurnKeys(interactions.db)

    def handle(
        self, question: Question, customer_name: str = "", admit_ticket: Callable[[], bool] | None = None
    ) -> TurnResult:
        """Answer a customer message, or add it to their open ticket when an officer has taken over.

        The message is bounded first (cleaned, cut to the setting), whatever channel it came from; a cut message is
        answered on what was read, with a note saying so. `admit_ticket` lets a channel refuse a new ticket (the web
        chat limits them per client address); a refused handoff is told to try again later."""
        question, cut = bound_question(question, self.engine.settings.customers.message_max_chars)
        result = self._handle(question, customer_name, admit_ticket)
        if cut and result.reply is not None:
            note = phrases.MESSAGE_CUT[result.reply.lang].format(limit=self.engine.settings.customers.message_max_chars)
            result = replace(result, reply=replace(result.reply, text=f"{result.reply.text}\n\n{note}"))
        return result

    def _handle(self, question: Question, customer_name: str, admit_ticket: Callable[[], bool] | None) -> TurnResult:
        handled = self._handled(question)
        if handled is not None and handled.interaction_id is None and handled.ticket_id is not None:
            return TurnResult(reply=None, ticket=self.handoffs.get(handled.ticket_id))  # forwarded the first time
        if handled is None:
            open_ticket = self.handoffs.find_open(question.channel, question.user)
            if open_ticket is not None:
                self.handoffs.add_message(open_ticket.id, MessageRole.CUSTOMER, question.text, turn_key=question.key)
                return TurnResult(reply=None, ticket=self.handoffs.get(open_ticket.id))
        reply = self.engine.answer(question)  # run again, the same question gets the same answer
        return self._recorded(question, reply, handled, customer_name, admit_ticket)

    def _recorded(
        self,
        question: Question,
        reply: Reply,
        handled: HandledTurn | None,
        customer_name: str,
        admit_ticket: Callable[[], bool] | None,
    ) -> TurnResult:
        """Record the reply and open its ticket, unless a first run of the same keyed message already did."""
        if handled is not None and handled.interaction_id is not None:
            interaction_id = handled.interaction_id
        else:
            interaction_id = self.interactions.record(question, reply)
        if reply.outcome is not Outcome.HANDOFF:
            return TurnResult(reply=reply, interaction_id=interaction_id)
        if handled is not None and handled.ticket_id is not None:
            ticket = self.handoffs.get(handled.ticket_id)
            return TurnResult(reply=reply, interaction_id=interaction_id, ticket=ticket, ticket_created=True)
        if admit_ticket is not None and not admit_ticket():
            return TurnResult(reply=notice_reply(phrases.TOO_MANY_HANDOFFS, reply.lang), interaction_id=interaction_id)
        ticket = self._open_ticket(question, reply, customer_name)
        return TurnResult(reply=reply, interaction_id=interaction_id, ticket=ticket, ticket_created=True)

    def _handled(self, question: Question) -> HandledTurn | None:
        return self.turn_keys.get(question.key) if question.key else None

    def request_person(
        self, question: Question, customer_name: str = "", admit_ticket: Callable[[], bool] | None = None
    ) -> TurnResult:
        """The customer pressed "talk to a person" (or sent /human): hand off whatever the text says."""
        question, _ = bound_question(question, self.engine.settings.customers.message_max_chars)
        handled = self._handled(question)
        lang = _lang_of(question)
        if handled is None:
            existing = self.handoffs.find_open(question.channel, question.user)
            if existing is not None:
                return TurnResult(reply=None, ticket=existing)
            if admit_ticket is not None and not admit_ticket():
                return TurnResult(reply=notice_reply(phrases.TOO_MANY_HANDOFFS, lang))
        reply = self.engine.handoff_reply(HandoffReason.ASKED_FOR_PERSON, lang)
        return self._recorded(question, reply, handled, customer_name, None)

    def officer_reply(self, ticket_id: int, text: str, officer: str) -> Ticket:
        """Record an officer's answer; the customer's channel delivers it from the outbox. It also becomes an FAQ draft."""
        text = clean_text(text)
        message = self.handoffs.add_message(ticket_id, MessageRole.OFFICER, text, author=officer)
        ticket = self.handoffs.get(ticket_id)
        if self.drafts is not None:
            try:
                self.drafts.propose(ticket, message, self.engine)
            except Exception:  # the draft is a by-product: the reply is stored and must still reach the customer
                log.exception("Could not make an FAQ draft from the reply to ticket %d", ticket_id)
        return ticket

    def close_ticket(self, ticket_id: int, officer: str) -> Ticket:
        """Close a ticket and queue the "Tanya is back" notice for the customer."""
        ticket = self.handoffs.get(ticket_id)
        return self.handoffs.close(
            ticket_id, by=officer, notice=phrases.BOT_BACK.get(ticket.lang, phrases.BOT_BACK["id"])
        )

    def tickets(self, status: TicketStatus | None = TicketStatus.OPEN) -> list[Ticket]:
        """Tickets (open ones by default), newest activity first: the officers' queue."""
        return self.handoffs.list_tickets(status)

    def ticket(self, ticket_id: int) -> Ticket:
        """One ticket with its messages (raises `TicketNotFoundError`)."""
        return self.handoffs.get(ticket_id)

    def open_ticket_of(self, channel: str, customer: str) -> Ticket | None:
        """The customer's open ticket, if a person has taken over their conversation."""
        return self.handoffs.find_open(channel, customer)

    def undelivered(self, channel: str) -> list[tuple[Ticket, TicketMessage]]:
        """Officers' replies and notices not yet delivered to customers on `channel`, oldest first."""
        return self.handoffs.pending_deliveries(channel)

    def mark_delivered(self, message_id: int) -> None:
        self.handoffs.mark_delivered(message_id)

    def note_for_officers(self, ticket_id: int, text: str) -> None:
        """A note on the ticket that officers see and the customer never does (a reply that could not be sent)."""
        self.handoffs.add_message(ticket_id, MessageRole.NOTE, text, "Tanya")

    def record_feedback(self, interaction_id: int, helpful: bool) -> None:
        """A customer's thumbs up or down on one answer."""
        self.interactions.add_feedback(interaction_id, helpful)

    def close_idle_tickets(self) -> list[Ticket]:
        """Close tickets idle longer than the setting; their customers are told the bot is back."""
        idle = timedelta(minutes=self.engine.settings.office.handoff_idle_minutes)
        return self.handoffs.close_idle(idle, notice_for=phrases.BOT_BACK)

    def sms_answer(self, text: str) -> SmsAnswer:
        """A ready-to-forward answer of at most 160 characters, for an officer's friend's question."""
        question, _ = bound_question(
            Question(text=text, channel=Channel.OFFICER_SMS), self.engine.settings.customers.message_max_chars
        )
        reply = self.engine.answer(question)
        if reply.outcome is Outcome.ANSWER and reply.source is not None:
            return SmsAnswer(shorten(reply.text), reply.source.ref, reply.confidence)
        return SmsAnswer(shorten(phrases.SMS_NO_ANSWER[reply.lang]), None, reply.confidence)

    def _open_ticket(self, question: Question, reply: Reply, customer_name: str) -> Ticket:
        transcript = [
            *question.history[-TRANSCRIPT_TURNS:],
            Turn(MessageRole.CUSTOMER, question.text),
            Turn(MessageRole.BOT, reply.text),
        ]
        return self.handoffs.open_ticket(
            question.channel,
            question.user,
            reply.reason or "low_confidence",
            reply.lang,
            transcript,
            customer_name,
            turn_key=question.key,
        )


def notice_reply(texts: dict[str, str], lang: str) -> Reply:
    """A reply that is neither an answer nor a handoff: the bot says why it does neither (no source, no ticket)."""
    return Reply(Outcome.DECLINE, texts.get(lang, texts["id"]), lang, 0.0, reason=NOTICE_REASON)


def _lang_of(question: Question) -> str:
    """The language of the latest non-empty customer text (a bare button press has none)."""
    texts = [question.text, *(t.text for t in reversed(question.history) if t.role == MessageRole.CUSTOMER)]
    return detect_language(next((t for t in texts if t.strip()), ""))
