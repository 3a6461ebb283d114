"""Re-indexing one changed kb/ file inside the running process, so every channel answers with it at once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from bot.knowledge_index import KnowledgeIndex
from ingest.knowledge_base import load_knowledge_base
from ingest.sync import SyncSummary, sync_index

log = logging.getLogger(__name__)


class LiveReindexer:
    """Syncs the index with one file (embedding only what changed), then refreshes the engine's retriever.

    Called by the web editor after each save. Syncs are serialised: two files saved at once are indexed one
    after the other, never interleaved.
    """

    def __init__(self, index: KnowledgeIndex, kb_root: Path, refresh: Callable[[], None]) -> None:
        self.index = index
        self.kb_root = kb_root
        self.refresh = refresh
        self._lock = threading.Lock()

    def __call__(self, path: Path) -> SyncSummary:
        """Validate `path`, bring the index in line with it and make the engine use the result."""
        with self._lock:
            kb = load_knowledge_base([path], self.kb_root)
            summary = sync_index(self.index, kb, show_progress=False)
            self.refresh()
        log.info("Re-indexed %s: %s", path.name, summary)
        return summary
