"""The content editor: FAQ entries, unanswered questions, officers' drafts and product documents.

The Gradio tabs over `bot.services.knowledge_editing`, which writes every change to the kb/ files and re-indexes it
at once, so the running bot — web and Telegram — answers with it within seconds. Here: the forms, the status lines
and the role checks; every write shares one concurrency slot.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from bot.core.drafts import DraftNotFoundError, FaqDraft
from bot.core.intents import Intent, IntentFileError
from bot.services.knowledge_editing import (
    ALLOWED_SUFFIXES,
    DraftApproval,
    EditableEntry,
    FaqEditError,
    KnowledgeBaseError,
    KnowledgeEditing,
    QuestionGroup,
    UploadRejectedError,
    suggested_id,
)
from bot.services.runtime import Runtime
from bot.services.staff_accounts import EDITOR, StaffAccounts
from ui import concurrency
from ui.markdown_text import plain_markdown
from ui.staff_access import allows, require

ENTRY_COLUMNS = ["ID", "Pertanyaan / Question"]
DRAFT_COLUMNS = ["#", "Pertanyaan pelanggan / Customer question", "Mirip / Similar to"]
MAX_GROUP_CARDS = 15
MAX_LISTED = 300
NOT_SAVED = "⛔ **Tidak disimpan / Not saved:** {}"
# What an editor can say a listed question really is, and what the bot then does with it.
INTENT_CHOICES: dict[Intent, str] = {
    Intent.QUESTION: "Pertanyaan biasa — dijawab dari FAQ / Ordinary question — answered from the FAQ",
    Intent.OTHER_PERSON_DATA: "Data orang lain — ditolak / Another person's data — refused",
    Intent.OWN_ACCOUNT: "Data akun sendiri — ke petugas / Own account data — to an officer",
    Intent.ASK_PERSON: "Minta petugas — ke petugas / Asks for a person — to an officer",
    Intent.ANGER: "Marah — ke petugas / Angry — to an officer",
    Intent.GREETING: "Salam atau terima kasih / Greeting or thanks",
    Intent.OFF_TOPIC: "Di luar topik / Off-topic",
    Intent.FLIRTING: "Iseng atau menggoda / Prank or flirting",
}


def entry_fields(
    entry_id: str, question: str, alternates: str, answer: str, answer_en: str, tags: str
) -> dict[str, Any]:
    """The editor form's text boxes as entry fields: alternates one per line, tags separated by commas."""
    return {
        "id": entry_id.strip(),
        "question": question.strip(),
        "alternates": [line.strip() for line in alternates.splitlines() if line.strip()],
        "answer": answer.strip(),
        "answer_en": answer_en.strip() or None,
        "tags": [tag.strip() for tag in tags.split(",") if tag.strip()],
    }


def group_card(number: int, group: QuestionGroup) -> str:
    """An unanswered group as card Markdown; the customers' wordings are shown as written (never as links)."""
    others = "".join(f"\n- {plain_markdown(q)}" for q in group.questions[1:6])
    return (
        f"**{number}. “{plain_markdown(group.representative)}”** · {group.count}× · {', '.join(group.reasons)}{others}"
    )


def not_saved(error: Exception) -> str:
    """A refusal as a status line; the message may quote what was typed or chosen, so it is shown as written."""
    return NOT_SAVED.format(plain_markdown(str(error)))


class ContentEditor:
    """The editors' tools over the knowledge base of one running process."""

    def __init__(self, runtime: Runtime, accounts: StaffAccounts) -> None:
        self.runtime = runtime
        self.accounts = accounts
        self.editing = KnowledgeEditing(runtime.settings, runtime.engine, runtime.interactions, runtime.drafts)

    # --- what the tabs do, as status lines ------------------------------------------------------------
    def search(self, query: str) -> list[EditableEntry]:
        """Entries matching every word of `query` (all entries when it is empty)."""
        return self.editing.search(query)

    def save(self, fields: dict[str, Any], version: str | None, file: str | None, editor: str) -> str:
        """Save an entry; returns the status line. Refusals (invalid, conflict) raise FaqEditError."""
        change = self.editing.save(fields, version=version, file=file or None)
        return _saved_line(change.action, change.entry_id, change.file, change.reindexed, editor)

    def unanswered_groups(self) -> list[QuestionGroup]:
        return self.editing.unanswered_groups()

    def add_group_as_alternates(self, group: QuestionGroup, entry_id: str) -> str:
        """Add a group's wordings to an entry, re-index, and take the group off the list."""
        change = self.editing.add_group_as_alternates(group, entry_id)
        return f"✅ {len(group.questions)} pertanyaan ditambahkan ke `{entry_id}` / added as alternates. {change.reindexed}"

    def mark_group_intent(self, group: QuestionGroup, intent: Intent | str) -> str:
        """Teach the bot what a group's questions really are, and take the group off the list."""
        chosen = Intent(intent)
        taught = self.editing.mark_group_intent(group, chosen)
        label = INTENT_CHOICES[chosen].split(" / ")[1]
        return (
            f"✅ {len(group.questions)} pertanyaan ditandai / marked: {label} "
            f"({taught.added} baru / new, {taught.relabelled} diubah / relabelled) — {self.editing.intent_examples_file}"
        )

    def approve_draft(self, draft: FaqDraft, approval: DraftApproval, editor: str) -> str:
        """Turn a draft into a new entry, or into an alternate of the entry it duplicates; returns the status line."""
        change = self.editing.approve_draft(draft, approval, editor=editor)
        if approval.as_alternate_of:
            return f"✅ Draf #{draft.id} ditambahkan sebagai alternatif `{approval.as_alternate_of}` / added as an alternate. {change.reindexed}"
        return f"✅ Draf #{draft.id} menjadi entri baru `{change.entry_id}` di {change.file} / became a new entry. {change.reindexed}"

    def upload(self, upload: Path, replace: bool) -> str:
        """Check and store an uploaded document, then index it; the temporary upload is removed either way."""
        stored = self.editing.upload(upload, replace)
        verb = "diganti / replaced" if stored.replaced else "ditambahkan / added"
        return f"✅ `{stored.shown}` {verb}: {stored.chunks} bagian diindeks / sections indexed."

    def documents(self) -> list[str]:
        return self.editing.documents()

    # --- API endpoints (each checks the role) ---------------------------------------------------------
    def api_faq_entries(self, query: str, request: gr.Request) -> list[dict[str, Any]]:
        """FAQ entries matching every word of `query` (empty: all), each with its file and version."""
        require(self.accounts, request, EDITOR)
        return [_entry_json(item) for item in self.search(query)]

    def api_faq_entry(self, entry_id: str, request: gr.Request) -> dict[str, Any]:
        """One FAQ entry with the version to send back when saving it."""
        require(self.accounts, request, EDITOR)
        return _entry_json(_editing(lambda: self.editing.entry(entry_id)))

    def api_save_faq_entry(self, entry: dict[str, Any], version: str, file: str, request: gr.Request) -> dict[str, Any]:
        """Save an entry: `version` as loaded ("" for a new entry); refused if someone else saved it since."""
        editor = require(self.accounts, request, EDITOR)
        change = _editing(lambda: self.editing.save(entry, version=version or None, file=file or None))
        return {
            "action": change.action,
            "id": change.entry_id,
            "file": change.file,
            "version": change.version,
            "reindexed": change.reindexed,
            "by": editor,
        }

    def api_delete_faq_entry(self, entry_id: str, version: str, request: gr.Request) -> dict[str, Any]:
        """Delete an entry loaded at `version`."""
        require(self.accounts, request, EDITOR)
        change = _editing(lambda: self.editing.delete(entry_id, version=version))
        return {"action": change.action, "id": change.entry_id, "file": change.file, "reindexed": change.reindexed}

    def api_drafts(self, request: gr.Request) -> list[dict[str, Any]]:
        """Pending FAQ drafts made from officers' answers."""
        require(self.accounts, request, EDITOR)
        return [_draft_json(d) for d in self.editing.pending_drafts()]

    def api_unanswered(self, request: gr.Request) -> list[dict[str, Any]]:
        """Unanswered questions grouped by similarity, with the suggested entry for each group."""
        require(self.accounts, request, EDITOR)
        return [
            {
                "questions": list(g.questions),
                "count": g.count,
                "reasons": list(g.reasons),
                "suggested_entry": g.suggested_entry,
                "interaction_ids": list(g.interaction_ids),
            }
            for g in self.unanswered_groups()
        ]

    # --- the tab -------------------------------------------------------------------------------------
    def build(self, page: gr.Blocks) -> None:
        """The editor's sub-tabs (inside the staff page's tab)."""
        with gr.Tabs():
            with gr.Tab("📚 Entri FAQ / Entries", id="faq-entries"):
                self._build_entries(page)
            with gr.Tab("❓ Tak terjawab / Unanswered", id="unanswered") as unanswered_tab:
                self._build_unanswered(unanswered_tab)
            with gr.Tab("📝 Draf petugas / Drafts", id="drafts") as drafts_tab:
                self._build_drafts(drafts_tab)
            with gr.Tab("📄 Dokumen / Documents", id="upload"):
                self._build_upload(page)
        gr.api(self.api_faq_entries, api_name="faq_entries", concurrency_limit=concurrency.EDITOR_READ)
        gr.api(self.api_faq_entry, api_name="faq_entry", concurrency_limit=concurrency.EDITOR_READ)
        gr.api(
            self.api_save_faq_entry,
            api_name="save_faq_entry",
            concurrency_limit=concurrency.KB_WRITE,
            concurrency_id=concurrency.KB_WRITES,
        )
        gr.api(
            self.api_delete_faq_entry,
            api_name="delete_faq_entry",
            concurrency_limit=concurrency.KB_WRITE,
            concurrency_id=concurrency.KB_WRITES,
        )
        gr.api(self.api_drafts, api_name="drafts", concurrency_limit=concurrency.EDITOR_READ)
        gr.api(self.api_unanswered, api_name="unanswered", concurrency_limit=concurrency.EDITOR_READ)

    def _build_entries(self, page: gr.Blocks) -> None:
        version = gr.State(None)
        with gr.Row():
            with gr.Column(scale=5):
                search = gr.Textbox(
                    label="Cari / Search",
                    placeholder="kata kunci, id atau tag / keywords, id or tag",
                    elem_id="editor-search",
                )
                table = gr.Dataframe(
                    headers=ENTRY_COLUMNS,
                    interactive=False,
                    wrap=True,
                    max_height=520,
                    elem_id="editor-table",
                    column_widths=["38%", "62%"],
                )
                count = gr.Markdown("")
            with gr.Column(scale=6):
                with gr.Row():
                    entry_id = gr.Textbox(
                        label="ID",
                        scale=3,
                        elem_id="editor-id",
                        info="huruf kecil-dengan-tanda-hubung; tetap selamanya / lowercase-with-dashes; permanent",
                    )
                    file = gr.Dropdown(
                        label="Berkas / File",
                        choices=self.editing.faq_files(),
                        value=self.editing.new_entries_file,
                        scale=2,
                        elem_id="editor-file",
                    )
                question = gr.Textbox(label="Pertanyaan / Question", elem_id="editor-question")
                alternates = gr.Textbox(
                    label="Cara lain bertanya (satu per baris) / Alternates (one per line)",
                    lines=4,
                    elem_id="editor-alternates",
                )
                answer = gr.Textbox(label="Jawaban / Answer", lines=4, elem_id="editor-answer")
                answer_en = gr.Textbox(
                    label="Jawaban bahasa Inggris / English answer", lines=3, elem_id="editor-answer-en"
                )
                tags = gr.Textbox(label="Tag (pisahkan dengan koma) / Tags (comma-separated)", elem_id="editor-tags")
                with gr.Row():
                    save = gr.Button("💾 Simpan / Save", variant="primary", elem_id="editor-save")
                    new = gr.Button("➕ Entri baru / New entry", elem_id="editor-new")
                    delete = gr.Button("🗑️ Hapus / Delete", variant="stop", elem_id="editor-delete")
                with gr.Row(visible=False) as confirm_row:
                    gr.Markdown("**Yakin menghapus entri ini? / Really delete this entry?**")
                    confirm = gr.Button(
                        "Ya, hapus / Yes, delete", variant="stop", size="sm", elem_id="editor-confirm-delete"
                    )
                    cancel = gr.Button("Batal / Cancel", size="sm")
                status = gr.Markdown("", elem_id="editor-status")
        form = [entry_id, file, question, alternates, answer, answer_en, tags]

        def listing(query: str, request: gr.Request) -> tuple[pd.DataFrame, str]:
            if not allows(self.accounts, request, EDITOR):  # also runs on page load, for every staff role
                return pd.DataFrame([], columns=ENTRY_COLUMNS), ""
            found = self.search(query)
            rows = [[i.entry.id, i.entry.question] for i in found[:MAX_LISTED]]
            more = f" (menampilkan / showing {MAX_LISTED})" if len(found) > MAX_LISTED else ""
            return pd.DataFrame(rows, columns=ENTRY_COLUMNS), f"{len(found)} entri / entries{more}"

        def form_values(item: EditableEntry | None) -> list[Any]:
            if item is None:
                return [
                    "",
                    gr.Dropdown(
                        choices=self.editing.faq_files(), value=self.editing.new_entries_file, interactive=True
                    ),
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
            e = item.entry
            return [
                gr.Textbox(value=e.id, interactive=False),
                gr.Dropdown(choices=self.editing.faq_files(), value=item.file, interactive=False),
                e.question,
                "\n".join(e.alternates),
                e.answer,
                e.answer_en or "",
                ", ".join(e.tags),
            ]

        def open_entry(event: gr.SelectData, request: gr.Request) -> list[Any]:
            require(self.accounts, request, EDITOR)
            row = event.row_value or []
            item = _editing(lambda: self.editing.entry(str(row[0])))
            return [
                *form_values(item),
                item.version,
                f"Membuka / Editing `{item.entry.id}` ({item.file})",
                gr.Row(visible=False),
            ]

        def blank(request: gr.Request) -> list[Any]:
            require(self.accounts, request, EDITOR)
            return [
                *form_values(None),
                None,
                "Entri baru: isi lalu simpan. / New entry: fill in and save.",
                gr.Row(visible=False),
            ]

        def on_save(
            loaded: str | None,
            query: str,
            entry_id_value: str,
            file_value: str,
            question_value: str,
            alternates_value: str,
            answer_value: str,
            answer_en_value: str,
            tags_value: str,
            request: gr.Request,
        ) -> list[Any]:
            editor = require(self.accounts, request, EDITOR)
            fields = entry_fields(
                entry_id_value, question_value, alternates_value, answer_value, answer_en_value, tags_value
            )
            try:
                line = self.save(fields, loaded, file_value if loaded is None else None, editor)
            except (FaqEditError, KnowledgeBaseError) as error:
                gr.Warning(str(error))
                return [gr.skip()] * (len(form) + 1) + [not_saved(error), gr.skip(), gr.skip()]
            item = self.editing.entry(fields["id"])
            return [*form_values(item), item.version, line, *listing(query, request)]

        def on_delete(loaded: str | None, entry_id_value: str, query: str, request: gr.Request) -> list[Any]:
            require(self.accounts, request, EDITOR)
            if loaded is None:
                return [
                    *[gr.skip()] * (len(form) + 1),
                    "Tidak ada entri tersimpan yang dibuka. / No saved entry is open.",
                    gr.Row(visible=False),
                    gr.skip(),
                    gr.skip(),
                ]
            try:
                change = self.editing.delete(entry_id_value, version=loaded)
            except FaqEditError as error:
                gr.Warning(str(error))
                return [
                    *[gr.skip()] * (len(form) + 1),
                    not_saved(error),
                    gr.Row(visible=False),
                    gr.skip(),
                    gr.skip(),
                ]
            line = _saved_line(change.action, change.entry_id, change.file, change.reindexed, "")
            return [*form_values(None), None, line, gr.Row(visible=False), *listing(query, request)]

        read = concurrency.EDITOR_READ
        write, writes = concurrency.KB_WRITE, concurrency.KB_WRITES
        entry_outputs = [*form, version, status, confirm_row]
        page.load(listing, [search], [table, count], concurrency_limit=read, api_visibility="private")
        search.change(
            listing,
            [search],
            [table, count],
            trigger_mode="always_last",
            show_progress="hidden",
            concurrency_limit=read,
            api_visibility="private",
        )
        table.select(open_entry, None, entry_outputs, concurrency_limit=read, api_visibility="private")
        new.click(blank, None, entry_outputs, concurrency_limit=read, api_visibility="private")
        save.click(
            on_save,
            [version, search, *form],
            [*form, version, status, table, count],
            concurrency_limit=write,
            concurrency_id=writes,
            api_visibility="private",
        )
        for button, show in ((delete, True), (cancel, False)):
            button.click(
                lambda visible=show: gr.Row(visible=visible),
                None,
                confirm_row,
                queue=False,
                concurrency_limit=read,
                api_visibility="private",
            )
        confirm.click(
            on_delete,
            [version, entry_id, search],
            [*entry_outputs, table, count],
            concurrency_limit=write,
            concurrency_id=writes,
            api_visibility="private",
        )

    def _build_unanswered(self, tab: gr.Tab) -> None:
        gr.Markdown(
            "Pertanyaan yang dialihkan ke petugas, ditolak, dianggap di luar topik, dijawab dengan keyakinan rendah, atau "
            "ditandai tidak membantu — dikelompokkan menurut kemiripan. Satu klik menambahkannya sebagai cara lain "
            "bertanya untuk sebuah entri; atau tandai maksud sebenarnya (mis. pertanyaan biasa yang keliru ditolak) dan "
            "bot langsung mempelajarinya. / Questions handed off, refused, declined as off-topic, answered with low "
            "confidence or marked not helpful, grouped by similarity. One click adds them as alternates of an entry; "
            "or mark what they really are (say, an ordinary question refused by mistake) and the bot learns it at once."
        )
        groups = gr.State([])
        with gr.Row():
            refresh = gr.Button("↻ Muat ulang / Refresh", size="sm", scale=0, min_width=160)
            status = gr.Markdown("", elem_id="unanswered-status")

        def load_groups(request: gr.Request) -> tuple[list[QuestionGroup], str]:
            require(self.accounts, request, EDITOR)
            found = self.unanswered_groups()
            total = sum(g.count for g in found)
            return found, f"{len(found)} kelompok, {total} pertanyaan / groups, questions"

        @gr.render(inputs=[groups], concurrency_limit=concurrency.EDITOR_READ)
        def cards(found: list[QuestionGroup]) -> None:
            if not found:
                gr.Markdown("🎉 Tidak ada pertanyaan tak terjawab. / No unanswered questions.")
                return
            choices = self._entry_choices()
            for number, group in enumerate(found[:MAX_GROUP_CARDS], start=1):
                with gr.Group(elem_classes=["tanya-card"]):
                    gr.Markdown(group_card(number, group))
                    with gr.Row():
                        target = gr.Dropdown(
                            choices=choices, value=group.suggested_entry, label="Entri / Entry", scale=3
                        )
                        add = gr.Button(
                            _add_label(group.suggested_entry),
                            variant="primary",
                            scale=2,
                            elem_classes=["add-alternate"],
                        )
                    target.change(
                        lambda value: gr.Button(value=_add_label(value)),
                        target,
                        add,
                        queue=False,
                        concurrency_limit=concurrency.EDITOR_READ,
                        api_visibility="private",
                    )
                    add.click(
                        self._adder(group),
                        [target],
                        [groups, status],
                        concurrency_limit=concurrency.KB_WRITE,
                        concurrency_id=concurrency.KB_WRITES,
                        api_visibility="private",
                    )
                    with gr.Row():
                        intent = gr.Dropdown(
                            choices=[(label, i.value) for i, label in INTENT_CHOICES.items()],
                            value=Intent.QUESTION.value,
                            label="Sebenarnya / It is really",
                            scale=3,
                        )
                        mark = gr.Button("🏷️ Tandai / Mark", scale=2, elem_classes=["mark-intent"])
                    mark.click(
                        self._marker(group),
                        [intent],
                        [groups, status],
                        concurrency_limit=concurrency.KB_WRITE,
                        concurrency_id=concurrency.KB_WRITES,
                        api_visibility="private",
                    )

        for trigger in (refresh.click, tab.select):
            trigger(
                load_groups, None, [groups, status], concurrency_limit=concurrency.EDITOR_READ, api_visibility="private"
            )

    def _group_action(
        self, act: Callable[[str], str], refusals: tuple[type[Exception], ...]
    ) -> Callable[..., tuple[Any, str]]:
        """A card button's handler: the editor role, `act` on the card's chosen value, then the list as it is after
        (a refusal leaves the list and shows why)."""

        def run(value: str | None, request: gr.Request) -> tuple[Any, str]:
            require(self.accounts, request, EDITOR)
            try:
                line = act(value or "")
            except refusals as error:
                gr.Warning(str(error))
                return gr.skip(), not_saved(error)
            gr.Info(line)
            return self.unanswered_groups(), line

        return run

    def _adder(self, group: QuestionGroup) -> Callable[..., tuple[Any, str]]:
        return self._group_action(lambda entry_id: self.add_group_as_alternates(group, entry_id), (FaqEditError,))

    def _marker(self, group: QuestionGroup) -> Callable[..., tuple[Any, str]]:
        return self._group_action(
            lambda intent: self.mark_group_intent(group, intent or Intent.QUESTION.value), (IntentFileError, ValueError)
        )

    def _entry_choices(self) -> list[tuple[str, str]]:
        return [(f"{i.entry.id} — {i.entry.question[:70]}", i.entry.id) for i in self.editing.search("")]

    def _build_drafts(self, tab: gr.Tab) -> None:
        gr.Markdown(
            "Setiap balasan petugas menjadi draf FAQ. Setujui sebagai entri baru atau sebagai cara lain bertanya untuk "
            "entri yang mirip, sunting, atau buang. / Every officer answer becomes a draft: approve it as a new entry "
            "or as an alternate of the similar entry, edit it, or discard it."
        )
        selected = gr.State(None)
        with gr.Row():
            with gr.Column(scale=5):
                table = gr.Dataframe(
                    headers=DRAFT_COLUMNS,
                    datatype="str",  # plain text: customers' questions must not render as Markdown or HTML
                    interactive=False,
                    wrap=True,
                    max_height=460,
                    elem_id="drafts-table",
                    column_widths=["10%", "60%", "30%"],
                )
                refresh = gr.Button("↻ Muat ulang / Refresh", size="sm")
            with gr.Column(scale=6):
                similar = gr.Markdown("Pilih draf. / Pick a draft.")
                question = gr.Textbox(label="Pertanyaan / Question", elem_id="draft-question")
                answer = gr.Textbox(label="Jawaban / Answer", lines=4, elem_id="draft-answer")
                with gr.Row():
                    new_id = gr.Textbox(label="ID entri baru / New entry id", scale=3, elem_id="draft-id")
                    file = gr.Dropdown(
                        label="Berkas / File",
                        choices=self.editing.faq_files(),
                        value=self.editing.new_entries_file,
                        scale=2,
                    )
                with gr.Row():
                    approve_new = gr.Button("✅ Setujui sebagai entri baru / Approve as new entry", variant="primary")
                    approve_alt = gr.Button("➕ Setujui sebagai alternatif / Approve as alternate", visible=False)
                with gr.Row():
                    save_edit = gr.Button("💾 Simpan suntingan / Save edits", size="sm")
                    discard = gr.Button("🗑️ Buang / Discard", variant="stop", size="sm")
                status = gr.Markdown("")

        def listing(request: gr.Request) -> pd.DataFrame:
            require(self.accounts, request, EDITOR)
            rows = [
                [d.id, d.question, f"{d.duplicate_of} ({d.similarity:.2f})" if d.duplicate_of else "—"]
                for d in self.editing.pending_drafts()
            ]
            return pd.DataFrame(rows, columns=DRAFT_COLUMNS)

        def show(draft: FaqDraft | None) -> list[Any]:
            if draft is None:
                return [None, "Pilih draf. / Pick a draft.", "", "", "", gr.Button(visible=False)]
            note = (
                f"⚠️ Mirip dengan entri / Similar to entry `{draft.duplicate_of}` ({draft.similarity:.2f})"
                if draft.duplicate_of
                else "Tidak ada entri yang mirip. / No similar entry."
            )
            alternate = gr.Button(
                f"➕ Setujui sebagai alternatif dari / Approve as alternate of {draft.duplicate_of}",
                visible=bool(draft.duplicate_of),
            )
            return [
                draft.id,
                f"**Draf #{draft.id}** dari / from {plain_markdown(draft.officer or 'petugas')} · {note}",
                draft.question,
                draft.answer,
                suggested_id(draft.question),
                alternate,
            ]

        def pick(event: gr.SelectData, request: gr.Request) -> list[Any]:
            require(self.accounts, request, EDITOR)
            row = event.row_value or []
            return show(self.editing.draft(int(row[0])) if row else None)

        def decide(action: str) -> Callable[..., list[Any]]:
            def run(draft_id: int | None, q: str, a: str, entry_id: str, target: str, request: gr.Request) -> list[Any]:
                editor = require(self.accounts, request, EDITOR)
                if draft_id is None:
                    raise gr.Error("Pilih draf dulu. / Pick a draft first.")
                try:
                    draft = self.editing.draft(int(draft_id))
                    if action == "edit":
                        return [
                            *show(self.editing.edit_draft(draft.id, q, a)),
                            "💾 Suntingan disimpan. / Edits saved.",
                            listing(request),
                        ]
                    if action == "discard":
                        self.editing.discard_draft(draft.id, editor=editor)
                        line = f"🗑️ Draf #{draft.id} dibuang. / Draft discarded."
                    else:
                        alternate_of = draft.duplicate_of if action == "alternate" else None
                        line = self.approve_draft(draft, DraftApproval(entry_id, q, a, target, alternate_of), editor)
                except (FaqEditError, DraftNotFoundError) as error:
                    gr.Warning(str(error))
                    return [*[gr.skip()] * 6, not_saved(error), gr.skip()]
                gr.Info(line)
                return [*show(None), line, listing(request)]

            return run

        outputs = [selected, similar, question, answer, new_id, approve_alt, status, table]
        inputs = [selected, question, answer, new_id, file]
        for trigger in (refresh.click, tab.select):
            trigger(listing, None, table, concurrency_limit=concurrency.EDITOR_READ, api_visibility="private")
        table.select(pick, None, outputs[:6], concurrency_limit=concurrency.EDITOR_READ, api_visibility="private")
        for button, action in (
            (approve_new, "new"),
            (approve_alt, "alternate"),
            (save_edit, "edit"),
            (discard, "discard"),
        ):
            button.click(
                decide(action),
                inputs,
                outputs,
                concurrency_limit=concurrency.KB_WRITE,
                concurrency_id=concurrency.KB_WRITES,
                api_visibility="private",
            )

    def _build_upload(self, page: gr.Blocks) -> None:
        limit_mb = self.editing.settings.web.upload_max_bytes / 1024 / 1024
        gr.Markdown(
            f"Unggah dokumen produk (PDF, Markdown, HTML; maks. {limit_mb:.0f} MB). Dokumen disimpan di `kb/docs/` dan "
            f"langsung diindeks. / Upload a product document (PDF, Markdown, HTML; at most {limit_mb:.0f} MB); it is "
            "saved under `kb/docs/` and indexed at once."
        )
        with gr.Row():
            with gr.Column(scale=3):
                upload = gr.File(
                    label="Dokumen / Document",
                    file_types=sorted(ALLOWED_SUFFIXES),
                    type="filepath",
                    elem_id="upload-file",
                )
                replace = gr.Checkbox(label="Ganti bila sudah ada / Replace if it exists", value=False)
                send = gr.Button("⬆️ Unggah & indeks / Upload & index", variant="primary", elem_id="upload-send")
                status = gr.Markdown("", elem_id="upload-status")
            with gr.Column(scale=2):
                listed = gr.Markdown("")

        def docs_list(request: gr.Request) -> str:
            if not allows(self.accounts, request, EDITOR):  # also runs on page load, for every staff role
                return ""
            names = self.documents()
            return "**Dokumen di kb/docs / Documents in kb/docs**\n" + ("".join(f"\n- `{n}`" for n in names) or "\n—")

        def on_upload(path: str | None, replace_existing: bool, request: gr.Request) -> tuple[Any, str, str]:
            require(self.accounts, request, EDITOR)
            if not path:
                raise gr.Error("Pilih berkas dulu. / Choose a file first.")
            try:
                line = self.upload(Path(path), replace_existing)
            except (UploadRejectedError, KnowledgeBaseError) as error:
                gr.Warning(str(error))
                return None, f"⛔ **Ditolak / Rejected:** {plain_markdown(str(error))}", docs_list(request)
            gr.Info(line)
            return None, line, docs_list(request)

        page.load(docs_list, None, listed, concurrency_limit=concurrency.EDITOR_READ, api_visibility="private")
        send.click(
            on_upload,
            [upload, replace],
            [upload, status, listed],
            concurrency_limit=concurrency.KB_WRITE,
            concurrency_id=concurrency.KB_WRITES,
            api_visibility="private",
        )


def _editing(action: Callable[[], Any]) -> Any:
    """Run an editor action for an API call, turning refusals into errors the client shows."""
    try:
        return action()
    except (FaqEditError, KnowledgeBaseError) as error:
        raise gr.Error(str(error)) from None


def _add_label(entry_id: str | None) -> str:
    if not entry_id:
        return "➕ Pilih entri / Choose an entry"
    return f"➕ Tambahkan sebagai alternatif dari {entry_id} / Add as alternates of {entry_id}"


def _saved_line(action: str, entry_id: str, file: str, reindexed: str, editor: str) -> str:
    verbs = {
        "added": "ditambahkan / added",
        "updated": "disimpan / saved",
        "deleted": "dihapus / deleted",
        "unchanged": "tidak berubah / unchanged",
    }
    by = f" oleh / by {editor}" if editor else ""
    index = f" · indeks / index: {reindexed}" if reindexed else ""
    return f"✅ `{entry_id}` {verbs.get(action, action)}{by} di / in {file}{index}"


def _entry_json(item: EditableEntry) -> dict[str, Any]:
    return {**item.entry.content(), "file": item.file, "version": item.version}


def _draft_json(draft: FaqDraft) -> dict[str, Any]:
    return {
        "id": draft.id,
        "ticket_id": draft.ticket_id,
        "channel": draft.channel,
        "question": draft.question,
        "answer": draft.answer,
        "officer": draft.officer,
        "duplicate_of": draft.duplicate_of or None,
        "similarity": round(draft.similarity, 3),
    }
