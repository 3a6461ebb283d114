"""The answer engine: the one place that decides answer, handoff, refuse or decline. Every channel calls it."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot import intents, phrases
from bot.business_hours import BusinessHours
from bot.confidence import ConfidenceModel
from bot.embedder import load_embedder
from bot.knowledge_index import KnowledgeIndex
from bot.language import detect_language
from bot.messages import HandoffReason, Outcome, Question, Reply, Source
from bot.retriever import Candidate, HybridRetriever
from bot.settings import Settings

log = logging.getLogger(__name__)

# A follow-up this short ("kalau yang pascabayar?") is read together with the previous question.
_FOLLOW_UP_MAX_TERMS = 4
_FOLLOW_UP = re.compile(
    r"^\s*(kalau|kalo|klo|kl|terus|trus|lalu|bagaimana dengan|gimana dengan|gmn dengan|kalau untuk|trs|"
    r"what about|how about|and for|and if|what if)\b"
)


@dataclass(frozen=True)
class Assessment:
    """What the engine found out about a message before choosing an outcome."""

    lang: str
    rule: str | None = None  # a rule that decides alone: empty, privacy, greeting, or a handoff reason
    candidates: tuple[Candidate, ...] = ()
    confidence: float = 0.0
    in_domain: bool = False
    query_terms: int = 0


def _rule_verdict(raw: str, rule_text: str) -> str | None:
    """The rule that decides this message without retrieval, in priority order."""
    if intents.is_privacy_request(rule_text):
        return "privacy"
    if intents.asks_for_person(rule_text):
        return HandoffReason.ASKED_FOR_PERSON.value
    if intents.is_angry(raw, rule_text):
        return HandoffReason.ANGRY.value
    if intents.is_greeting(rule_text.splitlines()[-1]):
        return "greeting"
    if intents.needs_account_data(rule_text):
        return HandoffReason.ACCOUNT_DATA.value
    return None


class AnswerEngine:
    """Given a question and the conversation so far, return a `Reply`."""

    def __init__(self, settings: Settings, index: KnowledgeIndex) -> None:
        self.settings = settings
        self.index = index
        self.retriever = HybridRetriever(index)
        self.confidence_model = ConfidenceModel(settings.confidence_weights)
        self.hours = BusinessHours(settings)

    @classmethod
    def open(cls, settings: Settings, *, writable: bool = False, store_dir: Path | None = None) -> AnswerEngine:
        """Open the index (checking it), load the model once and build the retriever."""
        index = KnowledgeIndex(settings, load_embedder(settings), writable=writable, store_dir=store_dir)
        engine = cls(settings, index)
        try:
            engine.warm_up()
        except Exception:
            index.close()
            raise
        return engine

    def warm_up(self) -> None:
        self.index.check_consistency()
        self.retriever.refresh()
        self.index.embedder.embed_query("halo")

    def refresh(self) -> None:
        """Pick up index changes (an editor's save) without a restart."""
        self.retriever.refresh()

    def close(self) -> None:
        self.index.close()

    @property
    def threshold(self) -> float:
        return self.settings.answer_threshold

    # ------------------------------------------------------------------------------------------
    def answer(self, question: Question, now: datetime | None = None) -> Reply:
        """Decide what to do with one customer message."""
        return self.decide(self.assess(question), self.threshold, now)

    def assess(self, question: Question) -> Assessment:
        """Everything the decision needs, independent of the threshold (the evals sweep thresholds over it)."""
        raw = question.text[: self.settings.max_question_chars].strip()
        lang = detect_language(raw)
        if not raw:
            return Assessment(lang, rule="empty")
        normalizer = self.retriever.normalizer
        rule_text = f"{raw.lower()}\n{' '.join(normalizer.words(raw))}"
        rule = _rule_verdict(raw, rule_text)
        if rule is not None:
            return Assessment(lang, rule=rule)
        text, candidates = self._with_context(raw, question)
        terms = len(normalizer.terms(text))
        # Off-topic is judged on words, not vectors: the English-trained model finds any Indonesian text "similar".
        in_domain = bool(normalizer.telecom_terms(raw)) or (
            bool(candidates) and candidates[0].lexical >= self.settings.domain_threshold
        )
        return Assessment(
            lang,
            candidates=tuple(candidates),
            confidence=self.confidence_model.confidence(candidates, terms),
            in_domain=in_domain,
            query_terms=terms,
        )

    def decide(self, assessment: Assessment, threshold: float, now: datetime | None = None) -> Reply:
        """The reply for an assessment at a given answer threshold."""
        lang, rule = assessment.lang, assessment.rule
        if rule == "empty":
            return Reply(Outcome.DECLINE, phrases.EMPTY[lang], lang, 0.0, reason="empty")
        if rule == "privacy":
            return Reply(Outcome.REFUSE, phrases.REFUSE[lang], lang, 1.0, reason="privacy")
        if rule == "greeting":
            return Reply(Outcome.DECLINE, phrases.GREETING[lang], lang, 1.0, reason="greeting")
        if rule is not None:
            return self.handoff_reply(HandoffReason(rule), lang, 1.0, now)
        confidence, candidates = assessment.confidence, assessment.candidates
        if candidates and confidence >= threshold:
            return self._answer_from(candidates[0], lang, confidence, list(candidates[1:]))
        if assessment.in_domain:
            return self.handoff_reply(HandoffReason.LOW_CONFIDENCE, lang, confidence, now)
        return Reply(Outcome.DECLINE, phrases.DECLINE[lang], lang, confidence, reason="off_topic")

    def _with_context(self, raw: str, question: Question) -> tuple[str, list[Candidate]]:
        """The text to retrieve with, and its ranking: a short follow-up ("kalau yang pascabayar?") is read
        together with the previous question."""
        previous = next((t.text for t in reversed(question.history) if t.role == "customer"), None)
        if previous is None or len(self.retriever.normalizer.terms(raw)) > _FOLLOW_UP_MAX_TERMS:
            return raw, self.retriever.retrieve(raw)
        # Only the previous question's topic (its glossary terms) is carried over, not its verbs: after "cara
        # aktifkan roaming", "kalau mau matiin?" is about switching roaming off, not on.
        topic = " ".join(sorted(self.retriever.normalizer.telecom_terms(previous))) or previous
        combined = f"{topic} {raw}"
        if _FOLLOW_UP.match(raw.lower()):
            return combined, self.retriever.retrieve(combined)
        standalone = self.retriever.retrieve(raw)
        with_context = self.retriever.retrieve(combined)
        if self.confidence_model.confidence(with_context) > self.confidence_model.confidence(standalone):
            return combined, with_context
        return raw, standalone

    def _answer_from(self, top: Candidate, lang: str, confidence: float, others: list[Candidate]) -> Reply:
        meta = top.record.metadata
        if top.kind == "faq":
            text = str(meta.get("answer_en") or meta["answer"]) if lang == "en" else str(meta["answer"])
        else:
            text = top.record.text.split("\n", 1)[-1]
        source = Source(top.kind, top.ref, str(meta.get("title", top.ref)))
        alternatives = tuple(Source(c.kind, c.ref, str(c.record.metadata.get("title", c.ref))) for c in others[:2])
        return Reply(Outcome.ANSWER, text, lang, confidence, source=source, alternatives=alternatives)

    def handoff_reply(
        self, reason: HandoffReason, lang: str, confidence: float = 1.0, now: datetime | None = None
    ) -> Reply:
        """The handoff reply for `reason`, saying honestly when a person will answer."""
        text = phrases.handoff_text(reason.value, lang, self.hours, now)
        return Reply(Outcome.HANDOFF, text, lang, confidence, reason=reason.value)
