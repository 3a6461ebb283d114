"""Editors' workflows over the knowledge base of one running process, for any channel.

Every change is written to the kb/ files (`FaqEditor`, `store_document`, the intent examples) and re-indexed at
once (`LiveReindexer`: only the changed file, only the changed texts), so the running bot answers with it on every
channel without a restart. Refusals raise the errors this module names (`FaqEditError`, `KnowledgeBaseError`,
`UploadRejectedError`, `DraftNotFoundError`); a channel shows them as written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.drafts import DraftNotFoundError, FaqDraft
from bot.core.intents import Intent
from bot.engine import AnswerEngine
from bot.services.unanswered_questions import QuestionGroup, unanswered_groups
from bot.settings import Settings
from bot.storage.faq_drafts import DraftStore
from bot.storage.interaction_log import InteractionLog
from ingest.document_upload import ALLOWED_SUFFIXES, DOCS_FOLDER, StoredDocument, UploadRejectedError, store_document
from ingest.faq_editor import EditableEntry, FaqEditError, FaqEditor, SavedChange
from ingest.intent_examples import IntentExamplesEditor, TaughtExamples
from ingest.live_reindex import LiveReindexer
from ingest.problems import KnowledgeBaseError

__all__ = [
    "ALLOWED_SUFFIXES",
    "DraftApproval",
    "DraftNotFoundError",
    "EditableEntry",
    "FaqDraft",
    "FaqEditError",
    "KnowledgeBaseError",
    "KnowledgeEditing",
    "QuestionGroup",
    "SavedChange",
    "StoredDocument",
    "TaughtExamples",
    "UploadRejectedError",
    "matches",
    "suggested_id",
]


@dataclass(frozen=True)
class DraftApproval:
    """What an editor makes of a draft: a new entry (its id, question, answer and file), or, with
    `as_alternate_of`, another way of asking that entry."""

    entry_id: str
    question: str
    answer: str
    file: str | None = None
    as_alternate_of: str | None = None


def matches(item: EditableEntry, query: str) -> bool:
    """True when every word of `query` appears in the entry (id, question, alternates, answers, tags or file)."""
    entry = item.entry
    haystack = " ".join(
        [entry.id, entry.question, *entry.alternates, entry.answer, entry.answer_en or "", *entry.tags, item.file]
    ).casefold()
    return all(word in haystack for word in query.casefold().split())


def suggested_id(question: str) -> str:
    """An FAQ id made from a question: lowercase words joined by dashes, at most 60 characters."""
    ascii_text = unicodedata.normalize("NFKD", question).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", ascii_text)
    slug = ""
    for word in words:
        if len(slug) + len(word) + 1 > 60:
            break
        slug = f"{slug}-{word}" if slug else word
    return slug or "entri-baru"


class KnowledgeEditing:
    """FAQ entries, documents, intent examples, unanswered questions and officers' drafts, edited live."""

    def __init__(
        self, settings: Settings, engine: AnswerEngine, interactions: InteractionLog, drafts: DraftStore
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.interactions = interactions
        self.drafts = drafts
        self.kb_root = settings.kb_dir
        self.reindex = LiveReindexer(engine, self.kb_root)
        self.faq = FaqEditor(self.kb_root, on_saved=self.reindex)
        self.intent_examples = IntentExamplesEditor(settings.intent_examples_file, on_saved=engine.reload_intents)

    # --- FAQ entries ---------------------------------------------------------------------------------
    def search(self, query: str) -> list[EditableEntry]:
        """Entries matching every word of `query` (all entries when it is empty)."""
        return [item for item in self.faq.entries() if matches(item, query or "")]

    def entry(self, entry_id: str) -> EditableEntry:
        return self.faq.get(entry_id)

    def faq_files(self) -> list[str]:
        return self.faq.faq_files()

    @property
    def new_entries_file(self) -> str:
        """The FAQ file a new entry goes to unless the editor picks another."""
        return self.faq.new_entries_file

    def save(self, fields: Mapping[str, Any], *, version: str | None, file: str | None = None) -> SavedChange:
        """Save an entry loaded at `version` (None: a new one); refused if someone else saved it since."""
        return self.faq.save(fields, version=version, file=file or None)

    def delete(self, entry_id: str, *, version: str) -> SavedChange:
        return self.faq.delete(entry_id, version=version)

    # --- unanswered questions ------------------------------------------------------------------------
    def unanswered_groups(self) -> list[QuestionGroup]:
        return unanswered_groups(self.engine, self.interactions)

    def add_group_as_alternates(self, group: QuestionGroup, entry_id: str) -> SavedChange:
        """Add a group's wordings to an entry, re-index, and take the group off the list."""
        if not entry_id:
            raise FaqEditError("choose the entry these questions belong to")
        change = self.faq.add_alternates(entry_id, list(group.questions))
        self.interactions.mark_resolved(list(group.interaction_ids))
        return change

    def mark_group_intent(self, group: QuestionGroup, intent: Intent | str) -> TaughtExamples:
        """Teach the bot what a group's questions really are (kb/intents.csv, learnt at once), and take the group
        off the list. An ordinary question marked so goes on to retrieval from now on; add it as an alternate too
        when retrieval missed its entry."""
        taught = self.intent_examples.teach(list(group.questions), Intent(intent))
        self.interactions.mark_resolved(list(group.interaction_ids))
        return taught

    # --- drafts from officers' answers ---------------------------------------------------------------
    def pending_drafts(self) -> list[FaqDraft]:
        return self.drafts.pending()

    def draft(self, draft_id: int) -> FaqDraft:
        return self.drafts.get(draft_id)

    def edit_draft(self, draft_id: int, question: str, answer: str) -> FaqDraft:
        self.drafts.edit(draft_id, question, answer)
        return self.drafts.get(draft_id)

    def discard_draft(self, draft_id: int, *, editor: str) -> None:
        self.drafts.resolve(draft_id, approved=False, by=editor)

    def approve_draft(self, draft: FaqDraft, approval: DraftApproval, *, editor: str) -> SavedChange:
        """Turn a draft into a new entry, or into an alternate of the entry it duplicates; mark it approved (a draft
        decided already is refused before anything is written)."""
        target, question = approval.as_alternate_of, approval.question
        if target:
            return self.drafts.approve(draft.id, by=editor, write=lambda: self.faq.add_alternates(target, [question]))
        fields = {
            "id": approval.entry_id,
            "question": question,
            "answer": approval.answer,
            "alternates": [],
            "tags": [],
        }
        return self.drafts.approve(
            draft.id, by=editor, write=lambda: self.faq.save(fields, version=None, file=approval.file or None)
        )

    # --- documents -----------------------------------------------------------------------------------
    def upload(self, upload: Path, replace: bool) -> StoredDocument:
        """Check and store an uploaded document, then index it; the temporary upload is removed either way."""
        try:
            return store_document(
                upload,
                upload.name,
                self.kb_root,
                max_bytes=self.settings.web.upload_max_bytes,
                replace=replace,
                on_saved=self.reindex,
            )
        finally:
            upload.unlink(missing_ok=True)

    def documents(self) -> list[str]:
        folder = self.kb_root / DOCS_FOLDER
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in ALLOWED_SUFFIXES)

    @property
    def intent_examples_file(self) -> str:
        return self.intent_examples.path.name
