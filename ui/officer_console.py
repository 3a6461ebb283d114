"""The officer console: open tickets from Telegram and the web, their conversations, reply and close; quick SMS answers.

Replies go through `ConversationService.officer_reply`, so they reach the customer on the channel they used
(the web chat's timer or the Telegram courier delivers them) and become FAQ drafts for the editors.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

import gradio as gr
import pandas as pd

from bot.core.masking import mask_personal_data
from bot.core.messages import Channel, MessageRole
from bot.core.phrases import MESSAGE_ROLE_LABEL, reason_label
from bot.core.tickets import Ticket, TicketMessage, TicketNotFoundError
from bot.services.runtime import Runtime
from bot.services.staff_accounts import OFFICER, StaffAccounts
from ui import concurrency
from ui.markdown_text import plain_markdown
from ui.staff_access import allows, require

QUEUE_REFRESH_SECONDS = 5.0
QUEUE_COLUMNS = ["#", "Kanal / Channel", "Pelanggan / Customer", "Alasan / Reason", "Terakhir / Last"]


def customer_label(ticket: Ticket) -> str:
    """Who the ticket is from, without exposing raw ids (web sessions are shortened)."""
    if ticket.channel == Channel.WEB:
        return f"Pengunjung web {ticket.customer[:6]}"
    return mask_personal_data(ticket.customer_name or f"Telegram {ticket.customer}")


def ticket_heading(ticket: Ticket) -> str:
    """The conversation's heading as Markdown; the customer's name (a Telegram first name) is shown as written."""
    state = "🟢 terbuka / open" if ticket.is_open else "⚪ ditutup / closed"
    who = plain_markdown(" ".join(customer_label(ticket).split()))
    return (
        f"### Tiket #{ticket.id} · {ticket.channel.capitalize()} · {who}\n"
        f"{state} · {reason_label(ticket.reason, bilingual=True)}"
    )


def transcript_messages(ticket: Ticket) -> list[dict[str, str]]:
    """A ticket's messages as chat bubbles: the customer on the right, bot, officers and notices on the left."""
    return [_bubble(m) for m in ticket.messages if m.text.strip()]


def _bubble(message: TicketMessage) -> dict[str, str]:
    text = plain_markdown(mask_personal_data(message.text))
    if message.role == MessageRole.CUSTOMER:
        return {"role": "user", "content": text}
    author = f" · {plain_markdown(message.author)}" if message.role == MessageRole.OFFICER and message.author else ""
    pending = " · ⏳ belum terkirim / not delivered yet" if not message.delivered else ""
    return {
        "role": "assistant",
        "content": f"**{MESSAGE_ROLE_LABEL.get(message.role, message.role)}{author}**{pending}\n\n{text}",
    }


class OfficerConsole:
    """What officers do with tickets; every action checks the officer role."""

    def __init__(self, runtime: Runtime, accounts: StaffAccounts) -> None:
        self.runtime = runtime
        self.accounts = accounts
        self.zone = ZoneInfo(runtime.settings.office.timezone)

    # --- actions -------------------------------------------------------------------------------------
    def queue(self) -> pd.DataFrame:
        """Open tickets, newest activity first."""
        rows = [
            [t.id, t.channel.capitalize(), customer_label(t), reason_label(t.reason, bilingual=True), self._when(t)]
            for t in self.runtime.conversations.tickets()
        ]
        return pd.DataFrame(rows, columns=QUEUE_COLUMNS)

    def reply(self, ticket_id: int, text: str, officer: str) -> Ticket:
        """Send an officer's reply to the ticket's customer (on their channel)."""
        if not text.strip():
            raise gr.Error("Balasan kosong. / The reply is empty.")
        ticket = self._ticket(ticket_id)
        if not ticket.is_open:
            raise gr.Error(f"Tiket #{ticket_id} sudah ditutup. / Ticket #{ticket_id} is already closed.")
        return self.runtime.conversations.officer_reply(ticket_id, text.strip(), officer)

    def close(self, ticket_id: int, officer: str) -> Ticket:
        """Close the ticket; the customer is told Tanya is back."""
        self._ticket(ticket_id)
        return self.runtime.conversations.close_ticket(ticket_id, officer)

    def _ticket(self, ticket_id: int | None) -> Ticket:
        if ticket_id is None:
            raise gr.Error("Pilih tiket dulu. / Select a ticket first.")
        try:
            return self.runtime.conversations.ticket(int(ticket_id))
        except TicketNotFoundError:
            raise gr.Error(f"Tiket #{ticket_id} tidak ada. / Ticket #{ticket_id} does not exist.") from None

    def _when(self, ticket: Ticket) -> str:
        return ticket.updated_at.replace(tzinfo=UTC).astimezone(self.zone).strftime("%d/%m %H:%M")

    # --- API endpoints (each checks the role) ---------------------------------------------------------
    def api_tickets(self, request: gr.Request) -> list[dict[str, Any]]:
        """Open tickets, newest first: id, channel, customer, reason, status and message count."""
        require(self.accounts, request, OFFICER)
        return [_ticket_json(t) for t in self.runtime.conversations.tickets()]

    def api_ticket(self, ticket_id: int, request: gr.Request) -> dict[str, Any]:
        """One ticket with its conversation (personal numbers masked)."""
        require(self.accounts, request, OFFICER)
        return _ticket_json(self._ticket(ticket_id), with_messages=True)

    def api_reply(self, ticket_id: int, text: str, request: gr.Request) -> dict[str, Any]:
        """Reply to a ticket as the logged-in officer."""
        officer = require(self.accounts, request, OFFICER)
        return _ticket_json(self.reply(ticket_id, text, officer), with_messages=True)

    def api_close_ticket(self, ticket_id: int, request: gr.Request) -> dict[str, Any]:
        """Close a ticket as the logged-in officer."""
        officer = require(self.accounts, request, OFFICER)
        return _ticket_json(self.close(ticket_id, officer))

    def api_quick_answer(self, text: str, request: gr.Request) -> dict[str, Any]:
        """A ready-to-forward answer of at most 160 characters, with its source."""
        require(self.accounts, request, OFFICER)
        answer = self.runtime.conversations.sms_answer(text)
        return {"text": answer.text, "source": answer.source, "confidence": round(answer.confidence, 3)}

    # --- the tab -------------------------------------------------------------------------------------
    def build(self, page: gr.Blocks) -> None:
        """The console's components and events (inside the staff page's tab)."""
        selected = gr.State(None)
        with gr.Row():
            with gr.Column(scale=6):
                gr.Markdown(
                    "### Antrean tiket terbuka / Open tickets\nTerbaru di atas; pilih baris untuk membuka. / Newest first; pick a row to open it."
                )
                queue = gr.Dataframe(
                    value=None,
                    headers=QUEUE_COLUMNS,
                    datatype="str",  # plain text: customers' names must not render as Markdown or HTML
                    interactive=False,
                    wrap=True,
                    max_height=420,
                    elem_id="officer-queue",
                    column_widths=["8%", "16%", "26%", "30%", "20%"],
                )
                refresh = gr.Button("↻ Muat ulang / Refresh", size="sm")
            with gr.Column(scale=6):
                heading = gr.Markdown("### Percakapan / Conversation\nBelum ada tiket dipilih. / No ticket selected.")
                conversation = gr.Chatbot(show_label=False, height=360, layout="bubble", elem_id="officer-conversation")
                reply_text = gr.Textbox(
                    label="Balasan / Reply",
                    lines=3,
                    placeholder="Tulis balasan untuk pelanggan… / Write to the customer…",
                    elem_id="officer-reply",
                )
                with gr.Row():
                    send = gr.Button("Kirim balasan / Send reply", variant="primary", elem_id="officer-send")
                    close = gr.Button("Tutup tiket / Close ticket", variant="stop", elem_id="officer-close")
        with gr.Accordion("📱 Jawaban cepat SMS / Quick SMS answer", open=True):
            gr.Markdown(
                "Tempel pertanyaan yang dikirim teman lewat SMS; dapatkan jawaban ≤160 karakter untuk disalin. / "
                "Paste a question a friend sent by SMS; get an answer of at most 160 characters to copy."
            )
            with gr.Row():
                sms_question = gr.Textbox(label="Pertanyaan / Question", lines=2, scale=3, elem_id="sms-question")
                sms_button = gr.Button("Buat jawaban / Make answer", scale=1, elem_id="sms-make")
            sms_answer = gr.Textbox(label="Jawaban SMS / SMS answer", lines=2, buttons=["copy"], elem_id="sms-answer")
            sms_meta = gr.Markdown("")
        timer = gr.Timer(QUEUE_REFRESH_SECONDS)

        def show_queue(request: gr.Request) -> pd.DataFrame:
            if not allows(self.accounts, request, OFFICER):  # also runs on page load, for every staff role
                return pd.DataFrame([], columns=QUEUE_COLUMNS)
            return self.queue()

        def open_ticket(ticket_id: int | None, request: gr.Request) -> tuple[Any, ...]:
            require(self.accounts, request, OFFICER)
            if ticket_id is None:
                return "### Percakapan / Conversation\nBelum ada tiket dipilih. / No ticket selected.", []
            ticket = self._ticket(ticket_id)
            return ticket_heading(ticket), transcript_messages(ticket)

        def pick(event: gr.SelectData, request: gr.Request) -> tuple[Any, ...]:
            row = event.row_value or []
            ticket_id = int(row[0]) if row else None
            return (ticket_id, *open_ticket(ticket_id, request))

        def on_send(ticket_id: int | None, text: str, request: gr.Request) -> tuple[Any, ...]:
            officer = require(self.accounts, request, OFFICER)
            ticket = self.reply(self._ticket(ticket_id).id, text, officer)
            gr.Info(f"Balasan terkirim ke tiket #{ticket.id}. / Reply sent.")
            return ("", *open_ticket(ticket.id, request), self.queue())

        def on_close(ticket_id: int | None, request: gr.Request) -> tuple[Any, ...]:
            officer = require(self.accounts, request, OFFICER)
            ticket = self.close(self._ticket(ticket_id).id, officer)
            gr.Info(f"Tiket #{ticket.id} ditutup; Tanya kembali menjawab pelanggan. / Ticket closed.")
            return (None, *open_ticket(None, request), self.queue())

        def on_sms(text: str, request: gr.Request) -> tuple[str, str]:
            require(self.accounts, request, OFFICER)
            if not text.strip():
                raise gr.Error("Tempel pertanyaannya dulu. / Paste the question first.")
            answer = self.runtime.conversations.sms_answer(text)
            source = (
                f"Sumber / Source: `{answer.source}`"
                if answer.source
                else "Tidak ada sumber yang cukup yakin / No confident source"
            )
            return (
                answer.text,
                f"{len(answer.text)}/160 karakter / characters · {source} · keyakinan / confidence {answer.confidence:.2f}",
            )

        limit = concurrency.CONSOLE
        for trigger in (page.load, refresh.click, timer.tick):
            trigger(show_queue, None, queue, show_progress="hidden", concurrency_limit=limit, api_visibility="private")
        queue.select(pick, None, [selected, heading, conversation], concurrency_limit=limit, api_visibility="private")
        for trigger in (send.click, reply_text.submit):
            trigger(
                on_send,
                [selected, reply_text],
                [reply_text, heading, conversation, queue],
                concurrency_limit=limit,
                api_visibility="private",
            )
        close.click(
            on_close,
            [selected],
            [selected, heading, conversation, queue],
            concurrency_limit=limit,
            api_visibility="private",
        )
        for trigger in (sms_button.click, sms_question.submit):
            trigger(on_sms, [sms_question], [sms_answer, sms_meta], concurrency_limit=limit, api_visibility="private")

        gr.api(self.api_tickets, api_name="tickets", concurrency_limit=concurrency.CONSOLE)
        gr.api(self.api_ticket, api_name="ticket", concurrency_limit=concurrency.CONSOLE)
        gr.api(self.api_reply, api_name="reply", concurrency_limit=concurrency.CONSOLE)
        gr.api(self.api_close_ticket, api_name="close_ticket", concurrency_limit=concurrency.CONSOLE)
        gr.api(self.api_quick_answer, api_name="quick_answer", concurrency_limit=concurrency.CONSOLE)


def _ticket_json(ticket: Ticket, with_messages: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": ticket.id,
        "channel": ticket.channel,
        "customer": customer_label(ticket),
        "reason": ticket.reason,
        "status": ticket.status,
        "updated_at": ticket.updated_at.isoformat(timespec="seconds"),
        "messages": len(ticket.messages),
    }
    if with_messages:
        data["conversation"] = [
            {"role": m.role, "author": m.author, "text": mask_personal_data(m.text), "delivered": m.delivered}
            for m in ticket.messages
        ]
    return data
