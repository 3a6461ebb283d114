"""Syncing the index with the knowledge base: embed only what changed, remove what is gone, keep the rest."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.embeddings import Embeddings
from tqdm import tqdm

from bot.core.content_digest import content_digest
from bot.core.messages import SourceKind
from bot.retrieval.embedder import OnnxEmbedder, model_identity
from bot.retrieval.knowledge_index import IndexRecord, KnowledgeIndex
from ingest.documents import DocumentChunk
from ingest.faq_files import FaqEntry
from ingest.knowledge_base import KnowledgeBase
from ingest.problems import KnowledgeBaseError, Problem

_EMBED_BATCH = 64


def faq_unit(entry_id: str) -> str:
    return f"faq:{entry_id}"


def faq_records(entry: FaqEntry) -> list[IndexRecord]:
    """The texts an FAQ entry is found by (question, alternates, answer), each with the entry's metadata."""
    unit = faq_unit(entry.id)
    shared = {
        "unit": unit,
        "unit_hash": content_digest({**entry.content(), "source": entry.source}),
        "kind": SourceKind.FAQ.value,
        "ref": entry.id,
        "title": entry.question,
        "source": entry.source,
        "answer": entry.answer,
        "answer_en": entry.answer_en or "",
        "tags": ",".join(entry.tags),
    }
    texts = [("question", entry.question), *(("alternate", a) for a in entry.alternates), ("answer", entry.answer)]
    records: list[IndexRecord] = []
    seen: set[str] = set()
    for n, (role, text) in enumerate(texts):
        if text.lower() in seen:
            continue
        seen.add(text.lower())
        records.append(IndexRecord(f"{unit}:{n}", text, {**shared, "role": role, "text_hash": content_digest(text)}))
    return records


def chunk_records(chunk: DocumentChunk) -> list[IndexRecord]:
    """A document chunk as one record; its text is both what is found and what is answered."""
    unit = f"doc:{chunk.source}:{chunk.index}"
    text = f"{chunk.title} — {chunk.section}\n{chunk.text}"
    meta = {
        "unit": unit,
        "unit_hash": content_digest([chunk.source, chunk.title, chunk.section, chunk.text]),
        "kind": SourceKind.DOC.value,
        "ref": chunk.ref,
        "title": chunk.title,
        "section": chunk.section,
        "source": chunk.source,
        "role": "chunk",
        "text_hash": content_digest(text),
    }
    return [IndexRecord(unit, text, meta)]


@dataclass
class SyncSummary:
    """What one sync did, counted in FAQ entries and document chunks."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    embedded: int = 0

    def __str__(self) -> str:
        return (
            f"added {self.added}, updated {self.updated}, removed {self.removed}, unchanged {self.unchanged} "
            f"({self.embedded} texts embedded)"
        )


def _check_ids_against_index(kb: KnowledgeBase, existing: dict[str, IndexRecord]) -> None:
    """An FAQ id already indexed from a file outside this run is a duplicate, not a move."""
    owners = {r.metadata.get("unit"): r.metadata.get("source", "") for r in existing.values()}
    problems = [
        Problem(e.source, f"duplicate id '{e.id}' (already indexed from {owners[faq_unit(e.id)]})", e.line)
        for e in kb.entries
        if faq_unit(e.id) in owners and owners[faq_unit(e.id)] != e.source and not kb.covers(owners[faq_unit(e.id)])
    ]
    if problems:
        raise KnowledgeBaseError(problems)


def sync_index(index: KnowledgeIndex, kb: KnowledgeBase, *, show_progress: bool = True) -> SyncSummary:
    """Make the index hold exactly `kb` within its scope; embed only texts that changed."""
    existing = index.records()
    _check_ids_against_index(kb, existing)
    desired = [r for e in kb.entries for r in faq_records(e)] + [r for c in kb.chunks for r in chunk_records(c)]
    desired_ids = {r.id for r in desired}
    in_scope = {rid: r for rid, r in existing.items() if kb.covers(str(r.metadata.get("source", "")))}

    to_embed = [
        r
        for r in desired
        if r.id not in existing or existing[r.id].metadata.get("text_hash") != r.metadata["text_hash"]
    ]
    embed_ids = {r.id for r in to_embed}
    to_relabel = [r for r in desired if r.id not in embed_ids and existing[r.id].metadata != r.metadata]
    to_delete = sorted(rid for rid in in_scope if rid not in desired_ids)

    # Ids are positions (an entry's n-th text, a document's n-th chunk), so an added alternate or section moves
    # unchanged texts to new ids: their stored vectors are reused and only new wording is embedded.
    holder = {r.metadata.get("text_hash"): rid for rid, r in existing.items()}
    reusable = {r.id: holder[r.metadata["text_hash"]] for r in to_embed if r.metadata["text_hash"] in holder}
    stored = index.vectors(sorted(set(reusable.values())))
    vector_of = {rid: stored[held] for rid, held in reusable.items()}
    fresh = [r for r in to_embed if r.id not in vector_of]
    progress = show_progress and len(fresh) > _EMBED_BATCH
    with tqdm(total=len(fresh), desc="Embedding", unit="text", disable=not progress, file=sys.stderr) as bar:
        vectors = _embed(index.embedder, [r.text for r in fresh], bar.update)
    vector_of.update(zip((r.id for r in fresh), vectors, strict=True))

    index.add(to_embed, [vector_of[r.id] for r in to_embed])
    index.update_metadata(to_relabel)
    index.delete(to_delete)
    info: dict[str, Any] = {"embedding_model": model_identity(index.settings)}
    if kb.glossary is not None:
        info["glossary"] = json.dumps(kb.glossary.as_mapping(), ensure_ascii=False)
    index.set_info(**info)
    return _summarise(in_scope, desired, embedded=len(fresh))


def _embed(embedder: Embeddings, texts: list[str], progress: Callable[[int], None]) -> list[list[float]]:
    """The texts' vectors, in their order. The ONNX embedder takes them all in one call (it batches by token count
    and embeds on every core); another embedder gets them by length in batches, so each batch pads little."""
    if isinstance(embedder, OnnxEmbedder):
        return embedder.embed_documents(texts, progress)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors: list[list[float]] = [[] for _ in texts]
    for start in range(0, len(order), _EMBED_BATCH):
        batch = order[start : start + _EMBED_BATCH]
        for position, vector in zip(batch, embedder.embed_documents([texts[i] for i in batch]), strict=True):
            vectors[position] = vector
        progress(len(batch))
    return vectors


def _summarise(before: dict[str, IndexRecord], after: list[IndexRecord], embedded: int) -> SyncSummary:
    old_units = {str(r.metadata["unit"]): r.metadata.get("unit_hash") for r in before.values()}
    new_units = {str(r.metadata["unit"]): r.metadata["unit_hash"] for r in after}
    summary = SyncSummary(embedded=embedded)
    for unit, unit_hash in new_units.items():
        if unit not in old_units:
            summary.added += 1
        elif old_units[unit] != unit_hash:
            summary.updated += 1
        else:
            summary.unchanged += 1
    summary.removed = sum(1 for unit in old_units if unit not in new_units)
    return summary
