"""An FAQ entry's fields and version as an editor loads them."""

from __future__ import annotations

from ingest.faq_editor import FaqEditor


def fields_of(editor: FaqEditor, entry_id: str) -> tuple[dict[str, object], str]:
    item = editor.get(entry_id)
    return dict(item.entry.content()), item.version
