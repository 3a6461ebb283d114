"""The Chroma index of the knowledge base: embedded (one owning process at a time) or a Chroma server."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from langchain_core.embeddings import Embeddings

from bot.core.glossary import Glossary
from bot.retrieval.embedder import model_identity
from bot.settings import Settings

log = logging.getLogger(__name__)

_LOCK_NAME = ".tanya.lock"
# The index-wide fact that changes with every change of content: what other replicas watch (`version`).
VERSION_KEY = "content_version"
_CHECK_SAMPLE = 25
_PAGE = 10_000  # records a read asks for at once


class StoreBusyError(RuntimeError):
    """Another process owns the embedded store."""


class IndexInconsistentError(RuntimeError):
    """The index does not match what it should hold; rebuild it from the kb/ files."""


@dataclass(frozen=True)
class IndexRecord:
    """One embedded text with its metadata (which entry or chunk it belongs to, and what to answer)."""

    id: str
    text: str
    metadata: dict[str, Any]


class _StoreLock:
    """An advisory file lock: writers exclusive, readers shared, so one process writes an embedded store."""

    def __init__(self, folder: Path, exclusive: bool) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / _LOCK_NAME
        self._file: IO[str] | None = open(self.path, "a+")  # noqa: SIM115  (held for the life of the process)
        try:
            fcntl.flock(self._file, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().strip() or "another process"
            self._file.close()
            self._file = None
            raise StoreBusyError(
                f"The index at {folder} is in use by {holder}. Chroma's embedded store is not safe to share "
                "between processes: stop that process first, make the change in the web editor of the running "
                "`tanya serve`, or run a Chroma server and set TANYA_CHROMA_HOST."
            ) from None
        if exclusive:
            self._file.seek(0)
            self._file.truncate()
            self._file.write(f"pid {os.getpid()} ({' '.join(os.path.basename(a) for a in sys.argv[:2])})")
            self._file.flush()

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class KnowledgeIndex:
    """Records of FAQ entries and document chunks, with their vectors, in one Chroma collection."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embeddings,
        *,
        writable: bool,
        store_dir: Path | None = None,
        _store_of: KnowledgeIndex | None = None,
    ) -> None:
        import chromadb

        self.settings = settings
        self.embedder = embedder
        # A Chroma server takes any client's writes; an embedded store only its owner's.
        self.writable = writable or bool(settings.index.chroma_host)
        self._info_lock = threading.Lock()
        self._content_changed = False  # records written since the last `set_info`, which stamps a new version
        self._lock: _StoreLock | None = None
        self.location: str
        self._client: Any
        if _store_of is not None:  # another collection of a store this process has open already
            self.location = _store_of.location
            client = _store_of._client
        elif settings.index.chroma_host:
            self.location = f"http://{settings.index.chroma_host}:{settings.index.chroma_port}"
            client = chromadb.HttpClient(host=settings.index.chroma_host, port=settings.index.chroma_port)
        else:
            folder = store_dir or settings.index.store_dir
            self.location = str(folder)
            self._lock = _StoreLock(folder, exclusive=writable)
            client = chromadb.PersistentClient(path=str(folder))
        self._client = client
        self._collection = client.get_or_create_collection(settings.index.collection, metadata={"hnsw:space": "cosine"})

    def sibling(self, settings: Settings, embedder: Embeddings) -> KnowledgeIndex:
        """The collection `settings.index.collection` of the same store, for another model (a model swap builds it
        while this one answers); it may write when this one may, and owns the store after `hand_over`."""
        return KnowledgeIndex(settings, embedder, writable=self.writable, _store_of=self)

    def hand_over(self, successor: KnowledgeIndex) -> None:
        """Pass the ownership of the store to a sibling taking this index's place (closing this keeps it open)."""
        if successor._client is self._client:
            successor._lock, self._lock = self._lock, None

    def drop(self) -> None:
        """Delete this index's collection (a model swap's old one)."""
        self.drop_collection(self.settings.index.collection)

    def drop_collection(self, name: str) -> None:
        """Delete a collection of this store when there is one by that name (a model swap's leftover)."""
        from chromadb.errors import NotFoundError

        with contextlib.suppress(NotFoundError, ValueError):
            self._client.delete_collection(name)

    def close(self) -> None:
        """Release the store for other processes."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> KnowledgeIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading -------------------------------------------------------------------------------
    def _reload(self) -> None:
        """Look the collection up again: another client of a Chroma server may have changed its facts, or
        recreated it (`tanya ingest --rebuild`), since this index opened it."""
        self._collection = self._client.get_collection(self.settings.index.collection)

    def records(self) -> dict[str, IndexRecord]:
        """Every record, by id (of the collection as it is now: this is what a refresh reads)."""
        self._reload()
        records: dict[str, IndexRecord] = {}
        while True:  # in pages: an embedded store refuses one read of more than 32,766 records (SQLite's limit)
            got = self._collection.get(include=["documents", "metadatas"], limit=_PAGE, offset=len(records))
            for rid, text, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True):
                records[rid] = IndexRecord(rid, text or "", dict(meta or {}))
            if len(got["ids"]) < _PAGE:
                return records

    def count(self) -> int:
        return int(self._collection.count())

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The ids of the `k` nearest records with their cosine similarity."""
        return self.search_vector(self.embedder.embed_query(query), k)

    def search_vector(self, vector: list[float], k: int) -> list[tuple[str, float]]:
        """The same for a query already embedded (the retriever embeds once for records and entry centres)."""
        if k <= 0:  # Chroma refuses n_results=0; more than it holds (or an empty collection) it takes
            return []
        # No count() first: on a Chroma server that round trip cost as much as the query (the load benchmark).
        found = self._collection.query(query_embeddings=[vector], n_results=k, include=["distances"])
        return [(rid, 1.0 - float(d)) for rid, d in zip(found["ids"][0], found["distances"][0], strict=True)]

    def vectors(self, ids: list[str]) -> dict[str, list[float]]:
        """The stored vectors of records, by id (sync reuses them for texts that did not change)."""
        rows, matrix = self.vector_matrix(ids)
        return {rid: matrix[row].tolist() for rid, row in rows.items()}

    def vector_matrix(self, ids: list[str]) -> tuple[dict[str, int], np.ndarray]:
        """The stored vectors of records as rows of one float32 matrix (what Chroma stores), with each id's row;
        read a page at a time, and never as Python floats (1.2 GB of them at 100,000 records)."""
        rows: dict[str, int] = {}
        pages: list[np.ndarray] = []
        for start in range(0, len(ids), _PAGE):
            got = self._collection.get(ids=ids[start : start + _PAGE], include=["embeddings"])
            for rid in got["ids"]:
                rows[rid] = len(rows)
            if len(got["ids"]):
                pages.append(np.asarray(got["embeddings"], dtype=np.float32))
        return rows, np.concatenate(pages) if pages else np.zeros((0, 0), dtype=np.float32)

    def info(self) -> dict[str, Any]:
        """Index-wide facts as stored now (set_info merges into them, so they must not be a stale copy)."""
        self._reload()
        return dict(self._collection.metadata or {})

    def version(self) -> str | None:
        """What changes whenever the content does (the collection, and the version a writer stamped after its
        last change): replicas over one Chroma server compare it to notice another's edit, ingest or rebuild.
        None while a collection is being built (recreated, no write finished yet): nothing to load from it yet."""
        self._reload()
        stamp = (self._collection.metadata or {}).get(VERSION_KEY)
        return f"{self._collection.id}/{stamp}" if stamp else None

    def glossary(self) -> Glossary:
        """The glossary stored with the index at ingest time."""
        raw = self.info().get("glossary")
        return Glossary.from_mapping(json.loads(raw)) if raw else Glossary()

    # --- writing -------------------------------------------------------------------------------
    def add(self, records: list[IndexRecord], vectors: list[list[float]]) -> None:
        """Store records with their vectors (replacing any with the same ids)."""
        for start in range(0, len(records), 256):
            batch = records[start : start + 256]
            self._collection.upsert(
                ids=[r.id for r in batch],
                documents=[r.text for r in batch],
                metadatas=[r.metadata for r in batch],
                embeddings=vectors[start : start + 256],
            )
        self._content_changed = self._content_changed or bool(records)

    def update_metadata(self, records: list[IndexRecord]) -> None:
        """Change records' metadata without re-embedding (their text is unchanged)."""
        if records:
            self._collection.update(ids=[r.id for r in records], metadatas=[r.metadata for r in records])
            self._content_changed = True

    def delete(self, ids: list[str]) -> None:
        for start in range(0, len(ids), 500):
            self._collection.delete(ids=ids[start : start + 500])
        self._content_changed = self._content_changed or bool(ids)

    def set_info(self, **values: Any) -> None:
        """Store index-wide facts (model name, glossary) in the collection's metadata; after records were written
        (a sync ends here), with a new content version, which tells other replicas to load the change."""
        with self._info_lock:  # sync and a background calibration both merge into the same metadata
            merged = {k: v for k, v in self.info().items() if not k.startswith("hnsw:")}
            merged.update(values)
            if self._content_changed or VERSION_KEY not in merged:
                merged[VERSION_KEY] = uuid.uuid4().hex
                self._content_changed = False
            self._collection.modify(metadata=merged)

    def reset(self) -> None:
        """Drop every record (for --rebuild). Other replicas keep what they loaded until the rebuild's sync ends
        (the new collection has no version until then)."""
        self._client.delete_collection(self.settings.index.collection)
        self._collection = self._client.get_or_create_collection(
            self.settings.index.collection, metadata={"hnsw:space": "cosine"}
        )

    # --- checking ------------------------------------------------------------------------------
    def check_consistency(self) -> None:
        """Raise IndexInconsistentError when the index cannot be trusted (wrong model, lost vectors)."""
        from chromadb.errors import ChromaError

        try:
            self._check_records()
        except ChromaError as error:  # e.g. its HNSW files lost or cut short: Chroma cannot read its own segment
            raise IndexInconsistentError(
                f"The index at {self.location} is damaged ({error}). "
                "Run `tanya ingest --rebuild` to recreate it from the kb/ files."
            ) from None

    def other_model(self) -> str | None:
        """The model the stored vectors came from, when it is not the settings' (other weights count as other)."""
        model = self.info().get("embedding_model")
        if self.count() == 0 or not model or model == model_identity(self.settings):
            return None
        return str(model)

    def _check_records(self) -> None:
        count = self.count()
        if count == 0:
            return
        other = self.other_model()
        if other is not None:
            raise IndexInconsistentError(
                f"The index at {self.location} was built with the model '{other}', but the settings name "
                f"'{model_identity(self.settings)}'. Run `tanya ingest --rebuild`."
            )
        got = self._collection.get(include=["embeddings"])
        ids = list(got["ids"])
        if len(ids) != count:
            raise IndexInconsistentError(f"The index at {self.location} is damaged. Run `tanya ingest --rebuild`.")
        step = max(1, len(ids) // _CHECK_SAMPLE)
        for position in range(0, len(ids), step)[:_CHECK_SAMPLE]:
            vector = [float(x) for x in got["embeddings"][position]]
            hits = self.search_vector(vector, 3)
            if not hits or (ids[position] not in {h for h, _ in hits} and hits[0][1] < 0.999):
                raise IndexInconsistentError(
                    f"The index at {self.location} no longer finds its own records (vectors lost). "
                    "Run `tanya ingest --rebuild` to recreate it from the kb/ files."
                )
