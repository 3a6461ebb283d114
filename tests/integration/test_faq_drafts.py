"""Officers' replies become FAQ drafts on any channel, checked for near-duplicates, for editors to decide on."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from bot.core.drafts import DraftNotFoundError, DraftStatus, FaqDraft
from bot.core.messages import Question, Turn
from bot.core.tickets import Ticket, TicketMessage
from bot.services.knowledge_editing import DraftApproval, KnowledgeEditing, SavedChange
from bot.services.runtime import Runtime
from bot.storage.faq_drafts import question_before
from ingest.faq_editor import FaqEditError

NOW = datetime(2026, 1, 5, 10, 0)


def message(number: int, role: str, text: str) -> TicketMessage:
    return TicketMessage(number, 1, role, text, "", NOW, True)


def ticket(*messages: TicketMessage) -> Ticket:
    return Ticket(1, "telegram", "42", "", "low_confidence", "id", "open", NOW, NOW, messages)


def test_the_question_is_what_the_customer_said_since_the_last_officer_reply() -> None:
    reply = message(6, "officer", "Jawaban kedua")
    conversation = ticket(
        message(1, "customer", "pertanyaan pertama"),
        message(2, "bot", "saya teruskan"),
        message(3, "officer", "Jawaban pertama"),
        message(4, "customer", "lalu bagaimana"),
        message(5, "customer", "kalau pascabayar?"),
        reply,
    )
    assert question_before(conversation, reply) == "lalu bagaimana kalau pascabayar?"


def test_without_new_customer_text_the_latest_earlier_question_is_used() -> None:
    reply = message(4, "officer", "Tambahan")
    conversation = ticket(
        message(1, "customer", "kartu saya hilang"), message(2, "customer", " "), message(3, "bot", "ok"), reply
    )
    assert question_before(conversation, reply) == "kartu saya hilang"
    assert question_before(ticket(message(1, "bot", "halo"), reply), reply) == ""


def hand_off(runtime: Runtime, text: str, user: str = "web-1") -> int:
    """The customer asks, then presses "talk to a person" (the web chat sends the conversation along)."""
    first = runtime.conversations.handle(Question(text, user, "web"))
    history = (Turn("customer", text), Turn("bot", first.reply.text if first.reply else ""))
    result = runtime.conversations.request_person(Question("", user, "web", history))
    assert result.ticket is not None
    return result.ticket.id


def test_an_officer_reply_becomes_a_pending_draft_with_its_near_duplicate(demo_runtime: Runtime) -> None:
    ticket_id = hand_off(demo_runtime, "Bagaimana cara mengecek sisa pulsa?")
    demo_runtime.conversations.officer_reply(ticket_id, "Tekan *123*1# lalu panggil.", "siti")
    [draft] = demo_runtime.drafts.pending()
    assert (draft.ticket_id, draft.channel, draft.officer) == (ticket_id, "web", "siti")
    assert draft.question == "Bagaimana cara mengecek sisa pulsa?"
    assert draft.answer == "Tekan *123*1# lalu panggil."
    assert draft.duplicate_of == "cek-pulsa" and draft.similarity >= demo_runtime.engine.threshold


def test_follow_up_replies_extend_the_draft_and_new_questions_start_another(demo_runtime: Runtime) -> None:
    ticket_id = hand_off(
        demo_runtime, "Apakah bisa pindah nomor dari operator lain ke Nusantel dengan nomor 081234567890?"
    )
    demo_runtime.conversations.officer_reply(ticket_id, "Bisa, lewat layanan pindah operator.", "siti")
    demo_runtime.conversations.officer_reply(ticket_id, "Bawa KTP ke GraPARI.", "siti")
    [draft] = demo_runtime.drafts.pending()
    assert draft.answer == "Bisa, lewat layanan pindah operator.\nBawa KTP ke GraPARI."
    assert "081234567890" not in draft.question and "[PHONE" in draft.question  # masked like every stored text

    demo_runtime.conversations.handle(Question("berapa lama prosesnya?", "web-1", "web"))
    demo_runtime.conversations.officer_reply(ticket_id, "Sekitar 3 hari kerja.", "budi")
    newest, first = demo_runtime.drafts.pending()
    assert newest.question == "berapa lama prosesnya?" and newest.officer == "budi"
    assert first.id == draft.id


def test_editors_edit_approve_or_discard_drafts_once(demo_runtime: Runtime) -> None:
    ticket_id = hand_off(demo_runtime, "apakah ada paket khusus untuk pelajar?")
    demo_runtime.conversations.officer_reply(ticket_id, "Belum ada saat ini.", "siti")
    [draft] = demo_runtime.drafts.pending()
    edited = demo_runtime.drafts.edit(draft.id, "Apakah ada paket pelajar?", "Saat ini belum ada paket khusus pelajar.")
    assert (edited.question, edited.answer) == ("Apakah ada paket pelajar?", "Saat ini belum ada paket khusus pelajar.")
    approved = demo_runtime.drafts.resolve(draft.id, approved=True, by="eka", entry_id="paket-pelajar")
    assert (approved.status, approved.resolved_by, approved.resolved_entry) == (
        DraftStatus.APPROVED,
        "eka",
        "paket-pelajar",
    )
    assert demo_runtime.drafts.pending() == []
    with pytest.raises(DraftNotFoundError, match="already approved by eka"):
        demo_runtime.drafts.resolve(draft.id, approved=False, by="dewi")
    with pytest.raises(DraftNotFoundError):
        demo_runtime.drafts.get(999)


def test_a_discarded_draft_leaves_the_queue(demo_runtime: Runtime) -> None:
    ticket_id = hand_off(demo_runtime, "kenapa sinyal di rumah saya jelek?")
    demo_runtime.conversations.officer_reply(ticket_id, "Kami cek BTS di area Anda.", "siti")
    [draft] = demo_runtime.drafts.pending()
    assert demo_runtime.drafts.resolve(draft.id, approved=False, by="eka").status == DraftStatus.DISCARDED
    assert demo_runtime.drafts.pending() == []


def pending_draft(runtime: Runtime) -> FaqDraft:
    ticket_id = hand_off(runtime, "apakah ada paket khusus untuk pelajar?")
    runtime.conversations.officer_reply(ticket_id, "Ada: Paket Pelajar 20 GB Rp30.000.", "siti")
    [draft] = runtime.drafts.pending()
    return draft


def knowledge_editing(runtime: Runtime) -> KnowledgeEditing:
    return KnowledgeEditing(runtime.settings, runtime.engine, runtime.interactions, runtime.drafts)


def approve_as_new(editing: KnowledgeEditing, draft: FaqDraft, by: str = "eka") -> SavedChange:
    return editing.approve_draft(
        draft, DraftApproval(" paket-pelajar ", "Apakah ada paket pelajar?", draft.answer), editor=by
    )


def test_a_draft_discarded_meanwhile_is_not_approved_and_nothing_is_written(demo_runtime: Runtime) -> None:
    draft = pending_draft(demo_runtime)
    editing = knowledge_editing(demo_runtime)
    demo_runtime.drafts.resolve(draft.id, approved=False, by="dewi")  # another editor, after this one opened it
    with pytest.raises(DraftNotFoundError, match="already discarded by dewi"):
        approve_as_new(editing, draft)
    assert not (demo_runtime.settings.kb_dir / "faq" / "editor.yaml").exists()
    with pytest.raises(FaqEditError, match="no FAQ entry 'paket-pelajar'"):
        editing.entry("paket-pelajar")


def test_an_approval_records_the_entry_and_a_failed_write_leaves_the_draft_pending(demo_runtime: Runtime) -> None:
    draft = pending_draft(demo_runtime)
    editing = knowledge_editing(demo_runtime)
    with pytest.raises(FaqEditError, match="already exists"):
        editing.approve_draft(draft, DraftApproval("cek-pulsa", "Q?", "A."), editor="eka")
    assert demo_runtime.drafts.get(draft.id).status == DraftStatus.PENDING
    assert approve_as_new(editing, draft).entry_id == "paket-pelajar"
    approved = demo_runtime.drafts.get(draft.id)
    assert (approved.status, approved.resolved_by, approved.resolved_entry) == (
        DraftStatus.APPROVED,
        "eka",
        "paket-pelajar",
    )


@pytest.mark.fault("two editors approving one draft at once", "the entry is written once")
def test_of_two_editors_approving_at_once_only_the_first_writes(demo_runtime: Runtime) -> None:
    draft = pending_draft(demo_runtime)
    second_wrote: list[str] = []
    second_refused: list[Exception] = []

    def second() -> None:
        def write() -> SavedChange:
            second_wrote.append("written")
            return SavedChange("added", "paket-pelajar-2", "faq/editor.yaml", "v")

        try:
            demo_runtime.drafts.approve(draft.id, by="dewi", write=write)
        except DraftNotFoundError as error:
            second_refused.append(error)

    other = threading.Thread(target=second)

    def first_write() -> SavedChange:
        other.start()  # the second editor approves while the first one's entry is being written
        other.join(0.5)
        return SavedChange("added", "paket-pelajar", "faq/editor.yaml", "v")

    demo_runtime.drafts.approve(draft.id, by="eka", write=first_write)
    other.join(5)
    assert second_wrote == [] and len(second_refused) == 1
    assert demo_runtime.drafts.get(draft.id).resolved_entry == "paket-pelajar"
