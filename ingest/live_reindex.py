"""Re-indexing one changed kb/ file inside the running process, so every channel answers with it at once."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from bot.retrieval.knowledge_index import KnowledgeIndex
from ingest.knowledge_base import load_knowledge_base
from ingest.sync import SyncSummary, sync_index

log = logging.getLogger(__name__)


class ServingIndex(Protocol):
    """What is re-indexed: the index answering now (a model swap replaces it), refreshed after each change, and
    the lock every writer of it holds (the answer engine is one)."""

    @property
    def index(self) -> KnowledgeIndex: ...

    @property
    def content_lock(self) -> AbstractContextManager[object]: ...

    def refresh(self) -> None: ...


class LiveReindexer:
    """Syncs the index with one file (embedding only what changed), then refreshes the engine's retriever.

    Called by the web editor after each save. Syncs are serialised: two files saved at once are indexed one
    after the other, never interleaved.
    """

    def __init__(self, serving: ServingIndex, kb_root: Path) -> None:
        self.serving = serving
        self.kb_root = kb_root

    def __call__(self, path: Path) -> SyncSummary:
        """Validate `path`, bring the index in line with it and make the engine use the result."""
        with self.serving.content_lock:
            kb = load_knowledge_base([path], self.kb_root)
            summary = sync_index(self.serving.index, kb, show_progress=False)
            self.serving.refresh()
        log.info("Re-indexed %s: %s", path.name, summary)
        return summary
