"""The content editor over a real runtime: saves, uploads, unanswered groups and drafts re-index and are answered at once."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest
from support.markdown import HOSTILE, as_read, assert_inert

from bot.core.messages import Outcome, Question, Turn
from bot.services.knowledge_editing import DraftApproval, matches, suggested_id
from bot.services.runtime import Runtime
from bot.services.staff_accounts import StaffAccounts
from bot.services.unanswered_questions import QuestionGroup
from ingest.document_upload import UploadRejectedError
from ingest.faq_editor import EditableEntry, EntryConflictError, FaqEditError
from ingest.faq_files import FaqEntry
from ui.content_editor import ContentEditor, entry_fields, group_card, not_saved


@pytest.fixture
def editor(demo_runtime: Runtime) -> ContentEditor:
    return ContentEditor(demo_runtime, StaffAccounts({}))


def ask(runtime: Runtime, text: str, user: str = "t-1") -> str:
    reply = runtime.engine.answer(Question(text, user, "telegram"))
    return reply.text if reply.outcome is Outcome.ANSWER else f"<{reply.outcome.value}>"


def test_form_fields_become_entry_fields() -> None:
    fields = entry_fields(" cek-pulsa ", " Q? ", "a\n\n  b  \n", "A.", "  ", "pulsa, cek ,")
    assert fields == {
        "id": "cek-pulsa",
        "question": "Q?",
        "alternates": ["a", "b"],
        "answer": "A.",
        "answer_en": None,
        "tags": ["pulsa", "cek"],
    }


def test_search_matches_every_word_anywhere_in_the_entry() -> None:
    item = EditableEntry(
        FaqEntry("cek-pulsa", "Cara cek pulsa?", "Tekan *123#", ("sisa pulsa brp",), None, ("prabayar",)),
        "faq/pulsa.yaml",
        "v",
    )
    assert (
        matches(item, "")
        and matches(item, "PULSA prabayar")
        and matches(item, "brp *123#")
        and matches(item, "faq/pulsa")
    )
    assert not matches(item, "pulsa roaming")


def test_suggested_ids_are_valid_slugs() -> None:
    assert suggested_id("Apakah ada paket khusus pelajar?") == "apakah-ada-paket-khusus-pelajar"
    assert (
        suggested_id("Bisakah e-SIM dipakai di luar negeri / abroad?") == "bisakah-e-sim-dipakai-di-luar-negeri-abroad"
    )
    assert suggested_id("???") == "entri-baru"
    assert len(suggested_id("kata " * 40)) <= 60


def test_a_save_is_answered_at_once_on_every_channel(editor: ContentEditor, demo_runtime: Runtime) -> None:
    item = editor.editing.entry("cek-pulsa")
    fields = {**item.entry.content(), "answer": "Cek pulsa: tekan *888# (jawaban baru)."}
    line = editor.save(fields, item.version, None, "eka")
    assert "cek-pulsa" in line and "eka" in line and "updated 1" in line
    assert ask(demo_runtime, "bagaimana cara mengecek sisa pulsa?") == "Cek pulsa: tekan *888# (jawaban baru)."
    with pytest.raises(EntryConflictError):
        editor.save({**fields, "answer": "Versi lama."}, item.version, None, "dewi")


def test_a_new_entry_is_answered_and_a_deleted_one_no_longer(editor: ContentEditor, demo_runtime: Runtime) -> None:
    fields = {
        "id": "esim-wisata",
        "question": "Apakah ada eSIM untuk wisatawan?",
        "answer": "Ada, eSIM Wisata 30 hari.",
        "alternates": ["esim turis"],
        "answer_en": None,
        "tags": ["esim"],
    }
    editor.save(fields, None, "faq/editor.yaml", "eka")
    assert ask(demo_runtime, "apakah ada esim untuk wisatawan?") == "Ada, eSIM Wisata 30 hari."
    editor.editing.delete("esim-wisata", version=editor.editing.entry("esim-wisata").version)
    assert ask(demo_runtime, "apakah ada esim untuk wisatawan?") != "Ada, eSIM Wisata 30 hari."


def test_an_uploaded_document_is_stored_indexed_and_answered(
    editor: ContentEditor, demo_runtime: Runtime, tmp_path: Path
) -> None:
    upload = tmp_path / "Panduan Kartu Pelajar Nusantel.md"
    upload.write_text(
        "# Kartu Pelajar Nusantel\n\n## Syarat kartu pelajar\n\nKartu Pelajar Nusantel bisa didapat dengan menunjukkan "
        "kartu pelajar atau KTM yang masih berlaku di GraPARI. Harga perdana Rp10.000 berisi kuota belajar 15 GB.\n",
        encoding="utf-8",
    )
    line = editor.upload(upload, replace=False)
    assert "docs/panduan-kartu-pelajar-nusantel.md" in line and not upload.exists()
    assert (demo_runtime.settings.kb_dir / "docs" / "panduan-kartu-pelajar-nusantel.md").exists()
    reply = demo_runtime.engine.answer(Question("apa syarat mendapatkan kartu pelajar nusantel?", "t-2", "telegram"))
    assert reply.source is not None and reply.source.ref.startswith("docs/panduan-kartu-pelajar-nusantel.md")

    again = tmp_path / "panduan-kartu-pelajar-nusantel.md"
    again.write_text("# Lagi\n\nIsi.\n", encoding="utf-8")
    with pytest.raises(UploadRejectedError, match="already exists"):
        editor.upload(again, replace=False)
    assert not again.exists()  # the temporary upload is removed even when refused


def test_unanswered_questions_become_alternates_in_one_step(editor: ContentEditor, demo_runtime: Runtime) -> None:
    for user, text in (
        ("a", "pulsa gw kesedot terus tiap hari"),
        ("b", "pulsa gw kesedot terus tiap hari!"),
        ("c", "pulsaku kesedot terus tiap hari"),
    ):
        interaction_id = demo_runtime.conversations.handle(Question(text, user, "telegram")).interaction_id
        assert interaction_id is not None
        demo_runtime.interactions.add_feedback(interaction_id, False)
    groups = editor.unanswered_groups()
    group = next(g for g in groups if "kesedot" in g.representative)
    assert group.count == 3 and "tidak membantu / not helpful" in group.reasons
    line = editor.add_group_as_alternates(group, "pulsa-berkurang-sendiri")
    assert "3 pertanyaan ditambahkan ke `pulsa-berkurang-sendiri`" in line
    assert all("kesedot" not in g.representative for g in editor.unanswered_groups())  # resolved
    alternates = editor.editing.entry("pulsa-berkurang-sendiri").entry.alternates
    assert "pulsa gw kesedot terus tiap hari" in alternates


def test_a_wrongly_refused_question_is_listed_and_marking_its_intent_teaches_the_bot_at_once(
    editor: ContentEditor, demo_runtime: Runtime
) -> None:
    text = "nomor siapa yang paling murah untuk nelpon malam"  # "which provider's number": the shipped set refuses it
    handled = demo_runtime.conversations.handle(Question(text, "r-1", "telegram"))
    assert handled.reply is not None and handled.reply.outcome is Outcome.REFUSE
    group = next(g for g in editor.unanswered_groups() if g.representative == text)
    assert group.reasons == ("ditolak sebagai data orang lain / refused as another person's data",)
    line = editor.mark_group_intent(group, "question")
    assert "1 pertanyaan ditandai / marked: Ordinary question" in line and "intents.csv" in line
    assert demo_runtime.engine.answer(Question(text, "r-1", "telegram")).outcome is not Outcome.REFUSE
    assert all(g.representative != text for g in editor.unanswered_groups())  # resolved
    assert f"{text},question" in demo_runtime.settings.intent_examples_file.read_text(encoding="utf-8")


def test_marking_an_intent_over_a_broken_examples_file_saves_nothing(
    editor: ContentEditor, demo_runtime: Runtime
) -> None:
    broken = "text,intent\nhalo,no-such-intent\n"
    demo_runtime.settings.intent_examples_file.write_text(broken, encoding="utf-8")
    group = QuestionGroup(("siapa pemilik nomor ini",), (1,), ("dialihkan / handed off",), None, 0.0)
    with pytest.raises(ValueError, match="line 2"):
        editor.mark_group_intent(group, "other_person_data")
    assert demo_runtime.settings.intent_examples_file.read_text(encoding="utf-8") == broken


def test_a_draft_is_approved_as_a_new_entry_or_as_an_alternate(editor: ContentEditor, demo_runtime: Runtime) -> None:
    conversations = demo_runtime.conversations
    history = (Turn("customer", "apakah ada paket khusus pelajar?"),)
    ticket = conversations.request_person(Question("", "w-1", "web", history)).ticket
    assert ticket is not None
    conversations.officer_reply(ticket.id, "Ada: Paket Pelajar 20 GB Rp30.000 sebulan.", "siti")
    [draft] = demo_runtime.drafts.pending()
    approval = DraftApproval("paket-pelajar", "Apakah ada paket khusus pelajar?", draft.answer, "faq/editor.yaml")
    line = editor.approve_draft(draft, approval, "eka")
    assert "paket-pelajar" in line and demo_runtime.drafts.pending() == []
    assert ask(demo_runtime, "apakah ada paket khusus pelajar?") == "Ada: Paket Pelajar 20 GB Rp30.000 sebulan."

    history = (Turn("customer", "gmn cara cek sisa pulsa sy"),)
    ticket = conversations.request_person(Question("", "w-2", "web", history)).ticket
    assert ticket is not None
    conversations.officer_reply(ticket.id, "Tekan *123*1#.", "siti")
    [duplicate] = demo_runtime.drafts.pending()
    assert duplicate.duplicate_of == "cek-pulsa"
    approval = DraftApproval("", duplicate.question, duplicate.answer, as_alternate_of=duplicate.duplicate_of)
    assert "added as an alternate" in editor.approve_draft(duplicate, approval, "eka")
    assert "gmn cara cek sisa pulsa sy" in editor.editing.entry("cek-pulsa").entry.alternates


def test_unanswered_cards_show_customers_questions_as_written() -> None:
    group = QuestionGroup((HOSTILE, f"2. {HOSTILE}"), (1, 2), ("dialihkan / handed off",), "cek-pulsa", 0.7)
    card = group_card(1, group)
    assert card.startswith("**1. “") and "** · 2× · dialihkan / handed off" in card  # the app's own formatting
    assert_inert(card)
    assert f"“{HOSTILE}”" in as_read(card) and f"\n- 2. {HOSTILE}" in as_read(card)


def test_a_refusal_quoting_what_was_chosen_is_shown_as_written(editor: ContentEditor) -> None:
    group = QuestionGroup(("pulsa hilang",), (1,), ("dialihkan / handed off",), None, 0.0)
    with pytest.raises(FaqEditError) as refused:
        editor.add_group_as_alternates(group, HOSTILE)  # an entry id sent by the page, as is
    line = not_saved(refused.value)
    assert line.startswith("⛔ **Tidak disimpan / Not saved:** ")
    assert_inert(line)
    assert HOSTILE in as_read(line)


def test_tables_of_customers_questions_are_plain_text(editor: ContentEditor) -> None:
    with gr.Blocks() as page:
        editor.build(page)
    [drafts] = [block for block in page.blocks.values() if getattr(block, "elem_id", None) == "drafts-table"]
    assert isinstance(drafts, gr.Dataframe) and drafts.datatype == "str"  # Gradio shows "str" cells HTML-escaped
