"""`tanya tune`: fine-tune the embedding model on the knowledge base's own ways of asking each question.

Contrastive training (in-batch negatives): two phrasings of the same FAQ entry are pulled together, phrasings of
different entries pushed apart. Each batch holds one pair per entry, so no entry is its own negative. Runs on the
CPU in minutes for a knowledge base of a few hundred entries.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from pathlib import Path

from bot.embedder import resolve_model
from bot.text_normalizer import TextNormalizer
from ingest.faq_files import FaqEntry

log = logging.getLogger(__name__)

BATCH = 48
LEARNING_RATE = 3e-5
SCALE = 20.0  # cosine similarities are multiplied by this before the softmax (as in MultipleNegativesRankingLoss)


def phrasing_groups(entries: list[FaqEntry], normalizer: TextNormalizer) -> list[list[str]]:
    """Each entry's phrasings, plus their slang-normalised forms so the model learns informal = formal."""
    groups = []
    for entry in entries:
        texts = [entry.question, *entry.alternates]
        normalised = [" ".join(normalizer.words(t)) for t in texts]
        groups.append(list(dict.fromkeys(texts + [n for n in normalised if n])))
    return [g for g in groups if len(g) >= 2]


def _batches(groups: list[list[str]], rng: random.Random) -> list[list[tuple[str, str]]]:
    # Each phrasing is an anchor once an epoch, with another phrasing of its entry as the positive.
    pairs_per_group = [[(a, rng.choice([b for b in g if b != a])) for a in g] for g in groups]
    for pairs in pairs_per_group:
        rng.shuffle(pairs)
    batches: list[list[tuple[str, str]]] = []
    round_index = 0
    while any(round_index < len(p) for p in pairs_per_group):
        round_pairs = [p[round_index] for p in pairs_per_group if round_index < len(p)]
        rng.shuffle(round_pairs)
        batches.extend(round_pairs[i : i + BATCH] for i in range(0, len(round_pairs), BATCH))
        round_index += 1
    return [b for b in batches if len(b) > 1]


def tune_model(
    base_model: str,
    entries: list[FaqEntry],
    output: Path,
    *,
    normalizer: TextNormalizer,
    epochs: int = 1,
    seed: int = 13,
    progress: Callable[[int, int, float], None] | None = None,
) -> Path:
    """Fine-tune `base_model` on the entries' phrasings and save it (a sentence-transformers folder) to `output`."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = SentenceTransformer(resolve_model(base_model), device="cpu")
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    groups = phrasing_groups(entries, normalizer)
    model.train()
    for epoch in range(epochs):
        batches = _batches(groups, rng)
        for step, batch in enumerate(batches):
            anchors = torch.nn.functional.normalize(
                model(model.tokenize([a for a, _ in batch]))["sentence_embedding"], dim=-1
            )
            positives = torch.nn.functional.normalize(
                model(model.tokenize([b for _, b in batch]))["sentence_embedding"], dim=-1
            )
            logits = anchors @ positives.T * SCALE
            target = torch.arange(len(batch))
            loss = (
                torch.nn.functional.cross_entropy(logits, target) + torch.nn.functional.cross_entropy(logits.T, target)
            ) / 2
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if progress is not None:
                progress(epoch * len(batches) + step + 1, epochs * len(batches), float(loss))
    model.eval()
    output.mkdir(parents=True, exist_ok=True)
    model.save(str(output))
    return output
