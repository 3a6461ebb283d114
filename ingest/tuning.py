"""Fine-tuning the embedding model on many ways of asking each question.

Contrastive training (in-batch and hard negatives): two phrasings of the same question are pulled together,
phrasings of different ones, above all of the nearest ones, pushed apart. Runs on the CPU: about 10 minutes on two
cores for the shipped corpus (117 groups, thirteen phrasings each; 3 epochs), growing with the phrasings' number
and length.

The default embedding model is `tuned:kb`: the bundled model fine-tuned for kb/ on the shipped tuning corpus
(`tune_on`; it may learn kb/'s own phrasings instead or as well). Tuning is an explicit step (`tanya tune`, the
CLI before it opens an index, `tanya serve` in the background); where the model is kept and which generation is in
use is `bot.retrieval.tuned_models`. Its manifest records a digest of each kb entry's phrasings it learnt, so the
entries changed since are counted exactly.
"""

from __future__ import annotations

import fcntl
import json
import logging
import random
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.core.content_digest import content_digest
from bot.core.text_normalizer import TextNormalizer
from bot.retrieval.model_files import offline_if_bundled, resolve_model, weights_fingerprint
from bot.retrieval.tuned_models import (
    MANIFEST,
    RECIPE,
    Progress,
    current_generation,
    generation,
    generations_on_disk,
    make_current,
    pinned,
    progress_file,
    prune_generations,
    read_manifest,
    tuned_model_folder,
)
from bot.settings import Settings, TuningData
from ingest.faq_files import FaqEntry
from ingest.knowledge_base import KnowledgeBase, load_knowledge_base
from ingest.tuning_corpus import CORPUS_FILE, TuningCorpus, shipped_corpus

log = logging.getLogger(__name__)

BATCH = 48
LEARNING_RATE = 4e-5
LENGTH_GROUP = 16  # texts run through the model together, sorted by length, so little of a pass is padding
HARD_NEGATIVES = 3  # each entry's hard negatives come from its three nearest other entries
SCALE = 20.0  # cosine similarities are multiplied by this before the softmax (as in MultipleNegativesRankingLoss)


def ensure_tuned_model(settings: Settings, progress: Progress | None = None) -> Path:
    """The settings' tuned model folder, fine-tuning it first when it does not exist yet (once per generation)."""
    settings = pinned(settings, generation(settings))  # the pointer may move while this waits for the lock
    folder = tuned_model_folder(settings)
    if read_manifest(folder) is not None:
        return folder
    current = current_generation(settings)
    if generation(settings) < current:  # never rebuilt behind a re-tune's back (its index is gone too)
        raise RuntimeError(f"generation {generation(settings)} of the tuned model was replaced by generation {current}")
    with _tuning_lock(settings.model.cache_dir):
        if read_manifest(folder) is None:  # another process may have built it while this one waited
            log.warning(
                "Fine-tuning %s for %s on %s (about 10 minutes on two cores for the shipped corpus) into %s",
                settings.tuning.base_model,
                settings.tuned_kb_dir,
                _LEARNT[settings.tuning.on],
                folder,
            )
            _build(settings, progress or log_progress)
    return folder


def log_progress(step: int, total: int, loss: float) -> None:
    if step == total or step % max(1, total // 4) == 0:
        log.warning("Fine-tuning: step %d of %d (loss %.3f)", step, total, loss)


def _recording_progress(settings: Settings, progress: Progress | None) -> Progress:
    """`progress`, and each step written to the progress file other processes (the staff page) read."""
    target = progress_file(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.time()

    def write(step: int, total: int) -> None:
        partial = target.with_name(target.name + ".partial")
        partial.write_text(json.dumps({"step": step, "total": total, "started": started, "updated": time.time()}))
        partial.replace(target)

    def record(step: int, total: int, loss: float) -> None:
        write(step, total)
        if progress is not None:
            progress(step, total, loss)

    write(0, 0)
    return record


def build_tuned_model(settings: Settings, progress: Progress | None = None) -> Path:
    """Build the tuned model from its knowledge base's current phrasings (`tanya tune`): the pinned generation,
    else a new one made current (the one it replaces stays for a server still answering with it; older ones go)."""
    with _tuning_lock(settings.model.cache_dir):
        if settings.tuning.generation is not None:
            return _build(settings, progress)
        previous = current_generation(settings)
        on_disk = [number for number, _ in generations_on_disk(settings)]
        new = pinned(settings, max([previous, *on_disk]) + 1 if on_disk else previous)
        folder = _build(new, progress)
        make_current(new)
        prune_generations(pinned(settings, previous))
        return folder


def _build(settings: Settings, progress: Progress | None) -> Path:
    """Fine-tune the settings' generation into its folder (replacing it), the manifest written last."""

    kb_dir = settings.tuned_kb_dir
    kb = load_knowledge_base([kb_dir], kb_dir)
    folder = tuned_model_folder(settings)
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    started = time.monotonic()
    own = learnt_entries(settings, kb)
    corpus = corpus_to_learn(settings, own)
    # Learnt alone, the corpus folds its slang with its own glossary, so its model is the same for every kb.
    normalizer = TextNormalizer(kb.glossary if own else tuning_corpus(settings).glossary)
    log.info("Learning %d FAQ entries and %d groups of the tuning corpus", len(own), len(corpus))
    tune_model(
        settings.tuning.base_model,
        [*own, *corpus],
        partial,
        normalizer=normalizer,
        epochs=settings.tuning.epochs,
        progress=_recording_progress(settings, progress),
    )
    fingerprint = weights_fingerprint(partial)
    manifest = {
        "fingerprint": fingerprint,
        "generation": generation(settings),
        "base_model": settings.tuning.base_model,
        "kb_dir": str(kb_dir),
        "tune_on": settings.tuning.on.value,
        "entries": len(own),
        "corpus_groups": len(corpus),
        "epochs": settings.tuning.epochs,
        "recipe": RECIPE,
        "seconds": round(time.monotonic() - started, 1),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "phrasings": entry_phrasings(own, normalizer),
    }
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    partial.rename(folder)  # the manifest is already inside, so a half-built model is never used
    shutil.rmtree(old, ignore_errors=True)
    return folder


_LEARNT = {
    TuningData.CORPUS: "the tuning corpus",
    TuningData.KB: "the knowledge base's phrasings",
    TuningData.KB_AND_CORPUS: "the knowledge base's phrasings and the tuning corpus",
}


def learnt_entries(settings: Settings, kb: KnowledgeBase) -> list[FaqEntry]:
    """The knowledge base's FAQ entries the settings' model learns (none when it learns the corpus alone)."""
    return kb.entries if settings.tuning.on.learns_kb else []


def corpus_to_learn(settings: Settings, entries: list[FaqEntry]) -> list[FaqEntry]:
    """The groups of the settings' tuning corpus their model learns beside the knowledge base's `entries` (those
    it learns too)."""
    if not settings.tuning.on.learns_corpus:
        return []
    return tuning_corpus(settings).beside(entries)


def tuning_corpus(settings: Settings) -> TuningCorpus:
    """The corpus the settings' tuned model learns (the shipped one unless `tune_corpus_file` names another)."""
    return shipped_corpus(settings.tuning.corpus_file or CORPUS_FILE)


@contextmanager
def _tuning_lock(cache_dir: Path) -> Iterator[None]:
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".tuning.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _phrasings(entry: FaqEntry, normalizer: TextNormalizer) -> list[str]:
    """An entry's phrasings, plus their slang-normalised forms so the model learns informal = formal."""
    texts = [entry.question, *entry.alternates]
    normalised = [" ".join(normalizer.words(t)) for t in texts]
    return list(dict.fromkeys(texts + [n for n in normalised if n]))


def phrasing_groups(entries: list[FaqEntry], normalizer: TextNormalizer) -> list[list[str]]:
    """The phrasings of each entry that has more than one: what the tuning learns from."""
    return [g for g in (_phrasings(e, normalizer) for e in entries) if len(g) >= 2]


def entry_phrasings(entries: list[FaqEntry], normalizer: TextNormalizer) -> dict[str, str]:
    """A digest of each entry's phrasings as the tuning reads them (a manifest records what its model learnt)."""
    return {e.id: content_digest(_phrasings(e, normalizer)) for e in entries}


def changed_entries(settings: Settings, kb: KnowledgeBase) -> int | None:
    """How many of the FAQ entries the settings' model learns from `kb` had their phrasings added, changed or
    deleted since it was tuned (always 0 for a model that learns the corpus alone: editors' phrasings reach the
    index, not the weights); None when its manifest predates this count (or there is no tuned model)."""
    manifest = read_manifest(tuned_model_folder(settings)) or {}
    recorded = manifest.get("phrasings")
    if not isinstance(recorded, dict):
        return None
    # The folder names what the model learns, so its manifest recorded the entries these settings learn.
    now = entry_phrasings(learnt_entries(settings, kb), TextNormalizer(kb.glossary))
    return sum(1 for entry in recorded.keys() | now.keys() if recorded.get(entry) != now.get(entry))


def _batches(groups: list[list[str]], rng: random.Random) -> list[list[tuple[int, str, str]]]:
    # Each phrasing is an anchor once an epoch, with another phrasing of its entry as the positive.
    pairs_per_group = [
        [(g, a, rng.choice([b for b in texts if b != a])) for a in texts] for g, texts in enumerate(groups)
    ]
    for pairs in pairs_per_group:
        rng.shuffle(pairs)
    batches: list[list[tuple[int, str, str]]] = []
    round_index = 0
    while any(round_index < len(p) for p in pairs_per_group):
        round_pairs = [p[round_index] for p in pairs_per_group if round_index < len(p)]
        rng.shuffle(round_pairs)
        batches.extend(round_pairs[i : i + BATCH] for i in range(0, len(round_pairs), BATCH))
        round_index += 1
    return [b for b in batches if len(b) > 1]


def _nearest_groups(model: Any, groups: list[list[str]]) -> list[list[int]]:
    """For each entry, the entries the model currently finds closest (by the mean of their phrasings)."""
    import numpy as np

    # One call for all the phrasings: encode sorts them by length into its batches (one call an entry padded
    # each entry's few phrasings to its longest).
    vectors = model.encode(
        [text for texts in groups for text in texts], batch_size=64, normalize_embeddings=True, show_progress_bar=False
    )
    ends = np.cumsum([len(texts) for texts in groups])
    centroids = np.stack(
        [vectors[end - len(texts) : end].mean(axis=0) for texts, end in zip(groups, ends, strict=True)]
    )
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    similarity = centroids @ centroids.T
    np.fill_diagonal(similarity, -np.inf)
    nearest: list[list[int]] = np.argsort(-similarity, axis=1)[:, : min(HARD_NEGATIVES, len(groups) - 1)].tolist()
    return nearest


def embed_in_length_groups(model: Any, texts: list[str]) -> Any:
    """The texts' normalised sentence vectors (with gradients when the model trains), computed in groups of like
    length: padded to the longest text of a step, a pass did 2.4 times the real work. Each vector is the one a
    single padded pass gives (attention ignores the padding), in the texts' order."""
    import torch

    lengths = [len(ids) for ids in model.tokenizer(texts)["input_ids"]]
    order = sorted(range(len(texts)), key=lengths.__getitem__)
    parts = [
        model(model.preprocess([texts[i] for i in order[start : start + LENGTH_GROUP]]))["sentence_embedding"]
        for start in range(0, len(texts), LENGTH_GROUP)
    ]
    back = torch.empty(len(texts), dtype=torch.long)
    back[torch.tensor(order)] = torch.arange(len(texts))
    return torch.nn.functional.normalize(torch.cat(parts)[back], dim=-1)


def tune_model(
    base_model: str,
    entries: list[FaqEntry],
    output: Path,
    *,
    normalizer: TextNormalizer,
    epochs: int = 1,
    seed: int = 13,
    learning_rate: float = LEARNING_RATE,
    progress: Progress | None = None,
) -> Path:
    """Fine-tune `base_model` on the entries' phrasings and save it (a sentence-transformers folder) to `output`.

    Each anchor must pick its own entry's phrasing out of the batch's other positives and, as hard negatives,
    a phrasing of one of the entries nearest to its own (re-mined every epoch): near-duplicate entries
    ("move from prepaid to postpaid" and back) are what the base model confuses most.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    offline_if_bundled(base_model)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = SentenceTransformer(resolve_model(base_model), device="cpu")
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    groups = phrasing_groups(entries, normalizer)
    if len(groups) < 2:
        raise ValueError("fine-tuning needs at least two FAQ entries with an alternate phrasing each")

    for epoch in range(epochs):
        model.eval()
        with torch.no_grad():
            nearest = _nearest_groups(model, groups)
        model.train()
        batches = _batches(groups, rng)
        for step, batch in enumerate(batches):
            anchor_groups = [g for g, _, _ in batch]
            negative_groups = [rng.choice(nearest[g]) for g in anchor_groups]
            negatives = [rng.choice(groups[n]) for n in negative_groups]
            # Anchors, then positives, then hard negatives: one set of length groups for all of the step's texts.
            vectors = embed_in_length_groups(model, [a for _, a, _ in batch] + [p for _, _, p in batch] + negatives)
            logits = vectors[: len(batch)] @ vectors[len(batch) :].T * SCALE
            # Another phrasing of the anchor's own entry is not a negative (only its own positive counts).
            column_groups = torch.tensor(anchor_groups + negative_groups)
            same_entry = torch.tensor(anchor_groups)[:, None] == column_groups[None, :]
            same_entry[torch.arange(len(batch)), torch.arange(len(batch))] = False
            loss = torch.nn.functional.cross_entropy(logits.masked_fill(same_entry, -1e4), torch.arange(len(batch)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if progress is not None:
                progress(epoch * len(batches) + step + 1, epochs * len(batches), loss.item())
    model.eval()
    output.mkdir(parents=True, exist_ok=True)
    model.save(str(output))
    return output
