"""Questions the bot could not answer well, grouped by meaning, each with the FAQ entry it most likely belongs to.

Editors work through the groups (the content editor) and analysts see the biggest ones (analytics). A group is
a run of questions whose embeddings are close to its first question; the suggested entry is the engine's own
best FAQ match, so "add as an alternate" teaches the retriever exactly the phrasing it missed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from bot.core.masking import mask_personal_data
from bot.core.messages import HandoffReason, Outcome
from bot.engine import AnswerEngine
from bot.storage.faq_drafts import nearest_entry
from bot.storage.interaction_log import Interaction, InteractionLog

SIMILARITY = 0.80  # cosine similarity for two questions to count as the same question
# Answers at most this far above the answer threshold count as "answered with low confidence".
LOW_CONFIDENCE_MARGIN = 0.10
MAX_QUESTIONS = 500
# Why a question went to a person, in the words of the unanswered list (Indonesian, English).
_HANDOFF_BECAUSE: dict[str, tuple[str, str]] = {
    HandoffReason.LOW_CONFIDENCE: ("tidak yakin", "not sure"),
    HandoffReason.ASKED_FOR_PERSON: ("minta petugas", "asked for a person"),
    HandoffReason.ANGRY: ("pelanggan marah", "angry"),
    HandoffReason.ACCOUNT_DATA: ("data akun sendiri", "own account data"),
}


@dataclass(frozen=True)
class QuestionGroup:
    """Questions asking the same thing, most frequent wording first."""

    questions: tuple[str, ...]
    interaction_ids: tuple[int, ...]
    reasons: tuple[str, ...]  # why they are here: handed off, low confidence, not helpful
    suggested_entry: str | None
    suggestion_score: float

    @property
    def representative(self) -> str:
        return self.questions[0]

    @property
    def count(self) -> int:
        return len(self.interaction_ids)


def low_confidence_limit(engine: AnswerEngine) -> float:
    """Answers below this confidence are listed as weak."""
    return min(1.0, engine.threshold + LOW_CONFIDENCE_MARGIN)


def why_listed(interaction: Interaction, low_confidence: float) -> str:
    """The reason an interaction needs an editor, as a short bilingual label."""
    if interaction.helpful is False:
        return "tidak membantu / not helpful"
    if interaction.outcome == Outcome.HANDOFF:
        because = _HANDOFF_BECAUSE.get(interaction.reason)
        return f"dialihkan: {because[0]} / handed off: {because[1]}" if because else "dialihkan / handed off"
    if interaction.outcome == Outcome.REFUSE:
        return "ditolak sebagai data orang lain / refused as another person's data"
    if interaction.outcome == Outcome.DECLINE:
        return "ditolak sebagai di luar topik / declined as off-topic"
    if interaction.confidence < low_confidence:
        return "keyakinan rendah / low confidence"
    return "lainnya / other"


def group_unanswered(engine: AnswerEngine, interactions: list[Interaction]) -> list[QuestionGroup]:
    """Group unanswered questions by meaning, biggest group first, each with the engine's best FAQ match."""
    low = low_confidence_limit(engine)
    usable = [i for i in interactions if i.question.strip()][:MAX_QUESTIONS]
    if not usable:
        return []
    texts = [mask_personal_data(" ".join(i.question.split())) for i in usable]
    unique = list(dict.fromkeys(t.casefold() for t in texts))
    vectors = np.asarray(engine.index.embedder.embed_documents(unique), dtype=np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    leader_of: dict[str, int] = {}
    leaders: list[int] = []
    for position in range(len(unique)):
        if leaders:
            similarities = vectors[leaders] @ vectors[position]
            best = int(np.argmax(similarities))
            if similarities[best] >= SIMILARITY:
                leader_of[unique[position]] = leaders[best]
                continue
        leaders.append(position)
        leader_of[unique[position]] = position
    members: dict[int, list[int]] = {}
    for index, text in enumerate(texts):
        members.setdefault(leader_of[text.casefold()], []).append(index)
    groups = [
        _group(engine, [usable[i] for i in indexes], [texts[i] for i in indexes], low) for indexes in members.values()
    ]
    return sorted(groups, key=lambda g: (-g.count, g.representative))


def unanswered_groups(engine: AnswerEngine, log: InteractionLog) -> list[QuestionGroup]:
    """The questions editors should look at, grouped: what the content editor and the analytics page list."""
    return group_unanswered(engine, log.unanswered(low_confidence_limit(engine)))


def _group(engine: AnswerEngine, items: list[Interaction], texts: list[str], low: float) -> QuestionGroup:
    wordings = [text for text, _ in Counter(texts).most_common()]
    reasons = tuple(reason for reason, _ in Counter(why_listed(i, low) for i in items).most_common())
    suggestion, score = nearest_entry(engine, wordings[0]) or (None, 0.0)
    return QuestionGroup(tuple(wordings), tuple(i.id for i in items), reasons, suggestion, score)
