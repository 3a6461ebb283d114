"""The answer engine: the one place that decides answer, handoff, refuse or decline. Every channel calls it."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from bot.core import phrases
from bot.core.business_hours import BusinessHours
from bot.core.cluster import CALIBRATION, LeaseKeeper, SoleProcess
from bot.core.intents import Intent
from bot.core.language import detect_language
from bot.core.messages import (
    DeclineReason,
    HandoffReason,
    MessageRole,
    Outcome,
    Question,
    RefuseReason,
    Reply,
    Source,
    SourceKind,
)
from bot.retrieval.calibration import (
    INFO_KEY,
    UNCALIBRATED_THRESHOLD,
    Calibration,
    Origin,
    from_settings,
    read_labelled,
    read_stored,
    self_calibrate,
)
from bot.retrieval.confidence import DEFAULT_WEIGHTS, ConfidenceModel
from bot.retrieval.embedder import load_embedder, model_identity
from bot.retrieval.intent_classifier import IntentClassifier, load_intent_classifier
from bot.retrieval.knowledge_index import KnowledgeIndex
from bot.retrieval.retriever import Candidate, HybridRetriever
from bot.settings import Settings

log = logging.getLogger(__name__)

# A follow-up this short ("kalau yang pascabayar?") is read together with the previous question.
_FOLLOW_UP_MAX_TERMS = 4
# How long one replica may take over the knowledge base's calibration before another may start it instead.
CALIBRATION_LEASE_SECONDS = 600.0
_FOLLOW_UP = re.compile(
    r"^\s*(kalau|kalo|klo|kl|terus|trus|lalu|bagaimana dengan|gimana dengan|gmn dengan|kalau untuk|trs|"
    r"what about|how about|and for|and if|what if)\b"
)


@dataclass(frozen=True)
class Serving:
    """What answers are made from: an index, its retriever and their calibration, swapped as one value so a
    question never meets the ranking of one model and the threshold of another."""

    index: KnowledgeIndex
    retriever: HybridRetriever
    calibration: Calibration


@dataclass(frozen=True)
class Assessment:
    """What the engine found out about a message before choosing an outcome."""

    lang: str
    rule: str | None = None  # decides alone: empty, privacy, greeting, or a handoff reason
    intent: Intent = Intent.QUESTION
    intent_confidence: float = 0.0
    candidates: tuple[Candidate, ...] = ()
    confidence: float = 0.0
    in_domain: bool = False
    query_terms: int = 0


# What each intent but an ordinary question leads to, before retrieval.
_INTENT_RULE: dict[Intent, str] = {
    Intent.ASK_PERSON: HandoffReason.ASKED_FOR_PERSON.value,
    Intent.OTHER_PERSON_DATA: "privacy",
    Intent.ANGER: HandoffReason.ANGRY.value,
    Intent.GREETING: "greeting",
    Intent.OWN_ACCOUNT: HandoffReason.ACCOUNT_DATA.value,
}
# Off-topic and flirting are not acted on here: declining them at once declined in-domain questions of the operator
# sets ("teknisi ... kapan datang"), so the knowledge base's own vocabulary decides after retrieval, as before.


def _file_stamp(path: Path) -> tuple[int, int] | None:
    """A file's modification time and size (None when it does not exist): what tells an edit."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def calibrate(retriever: HybridRetriever) -> Calibration:
    """Self-calibrate on what `retriever` sees, for the model its index was embedded with."""
    settings = retriever.index.settings
    log.info("Calibrating on the knowledge base's own phrasings (%d records)", len(retriever.records))
    confidence = (
        settings.answers.self_calibration_confidence_tuned
        if settings.model_learnt_kb
        else settings.answers.self_calibration_confidence
    )
    return self_calibrate(retriever, model_identity(settings), confidence)


def _keep(index: KnowledgeIndex, calibration: Calibration) -> None:
    """Store a self-calibration with the index it was made on, so the next start reuses it."""
    if index.writable:
        index.set_info(**{INFO_KEY: calibration.to_json()})


class AnswerEngine:
    """Given a question and the conversation so far, return a `Reply`."""

    def __init__(self, settings: Settings, index: KnowledgeIndex) -> None:
        self.settings = settings
        self.hours = BusinessHours(settings)
        self._serving = Serving(
            index, HybridRetriever(index), Calibration(UNCALIBRATED_THRESHOLD, dict(DEFAULT_WEIGHTS), "none")
        )
        self._intents_stamp = _file_stamp(settings.intent_examples_file)
        self.intents: IntentClassifier = load_intent_classifier(settings.intent_examples_file, settings.model.cache_dir)
        self._intents_loading = threading.Lock()
        self._recalibrating = threading.Lock()
        self._serving_written = threading.Lock()  # a calibration landing during a swap must not undo the swap
        # How many questions under way read each index: a swapped-out one is reset or dropped only at zero.
        self._readers: dict[KnowledgeIndex, int] = {}
        self._readers_changed = threading.Condition()
        # Held by whoever writes the serving index (an editor's save, a model swap), so none is lost in between.
        self.content_lock = threading.RLock()
        # Across replicas, one calibrates a changed knowledge base and the others take the result from the index.
        self.leases: LeaseKeeper = SoleProcess()
        self._index_version: str | None = None  # the index version the retriever last loaded
        self._refused_version: str | None = None  # a version made with another model, reported once

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
        self._index_version = self.index.version()
        self.retriever.refresh()
        self.index.embedder.embed_query("halo")
        self._settle_calibration(wait=True)

    @property
    def index(self) -> KnowledgeIndex:
        return self._serving.index

    @property
    def retriever(self) -> HybridRetriever:
        return self._serving.retriever

    @property
    def calibration(self) -> Calibration:
        return self._serving.calibration

    @property
    def model(self) -> str:
        """The model the serving index was embedded with."""
        return str(self.index.settings.model.embedding_model)

    def prepare(self, index: KnowledgeIndex) -> Serving:
        """A serving for `index` (synced already) with its calibration settled, made now when it has none: what
        `swap` takes. Slow (a self-calibration); answering goes on meanwhile."""
        retriever = HybridRetriever(index)
        retriever.refresh()
        calibration, fresh = self._known_calibration(index, retriever)
        if calibration is None or not fresh:
            calibration = calibrate(retriever.without(set()))
            _keep(index, calibration)
        return Serving(index, retriever, calibration)

    def swap(self, serving: Serving) -> None:
        """Answer from `serving` from the next question on (a question under way ends with the old one); the old
        index hands the store over and is closed. The caller holds `content_lock`, so no save falls between."""
        with self.content_lock, self._serving_written:
            old = self._serving
            old.index.hand_over(serving.index)
            self._serving = serving
            self._index_version = serving.index.version()
            self.settings = serving.index.settings
            if old.index is not serving.index:
                old.index.close()
        log.info("Now answering with %s (%s)", self.model, serving.calibration.describe())

    def wait_until_unused(self, index: KnowledgeIndex, timeout: float = 60.0) -> bool:
        """Block until no question under way reads `index` (swapped out, about to be reset or dropped); False
        when one still does after `timeout` seconds."""
        with self._readers_changed:
            return self._readers_changed.wait_for(lambda: index not in self._readers, timeout)

    @contextmanager
    def _reading(self) -> Iterator[Serving]:
        """The serving one question reads from start to end, counted so a swap cannot pull its index away."""
        with self._readers_changed:  # read and counted as one step: a waiter after a swap sees this question
            serving = self._serving
            self._readers[serving.index] = self._readers.get(serving.index, 0) + 1
        try:
            yield serving
        finally:
            with self._readers_changed:
                left = self._readers.pop(serving.index) - 1
                if left:
                    self._readers[serving.index] = left
                self._readers_changed.notify_all()

    def refresh(self) -> None:
        """Pick up index changes (an editor's save) without a restart; the calibration follows in the background."""
        self._index_version = self.index.version()  # read first: a change during the refresh is seen next time
        self.retriever.refresh()
        self.reload_intents()
        self._settle_calibration(wait=False)

    def follow_index(self) -> bool:
        """Load what another process changed in the index (an editor's save on another replica, `tanya ingest`,
        a rebuild once its sync finished), and a calibration another replica made; True when content was loaded.
        Cheap when nothing changed (one read of the index's facts): `follow` calls it every few seconds."""
        version = self.index.version()
        if version is not None and version != self._index_version:
            other = self.index.other_model()
            if other is not None:  # rebuilt with another model: this process cannot embed questions for it
                if version != self._refused_version:
                    self._refused_version = version
                    log.error(
                        "The index was rebuilt with the model %s, but this process serves %s: restart it with "
                        "TANYA_EMBEDDING_MODEL for that model (README: more than one server)",
                        other,
                        model_identity(self.settings),
                    )
                return False
            with self.content_lock:
                current = self.index.version()
                if current is not None and current != self._index_version:  # not loaded by a save meanwhile
                    log.info("The index was changed by another process; loading the change")
                    self.refresh()
                    return True
        if self._stale_calibration() and not self._recalibrating.locked():
            self._recalibrate_in_background()  # takes another replica's result, or makes it when none is making it
        return False

    def follow(self, stop: threading.Event, every: float) -> None:
        """`follow_index` every `every` seconds until `stop` is set (a thread of `tanya serve`)."""
        while not stop.wait(every):
            try:
                self.follow_index()
            except Exception:  # the index server may be away for a moment: answering goes on, the next round retries
                log.exception("Could not check the index for changes")

    def close(self) -> None:
        self.index.close()

    @property
    def threshold(self) -> float:
        return self.calibration.threshold

    @property
    def confidence_model(self) -> ConfidenceModel:
        return self.calibration.confidence_model

    def use_calibration(self, calibration: Calibration, retriever: HybridRetriever | None = None) -> None:
        """Answer with `calibration` from now on (one assignment: a question sees the old or the new one); made
        for `retriever`, it is dropped when another index has been swapped in since."""
        with self._serving_written:
            serving = self._serving
            if retriever is None or retriever is serving.retriever:
                self._serving = replace(serving, calibration=calibration)

    def reload_intents(self) -> None:
        """Learn the editors' intent examples as they are now (fitted again only when the file changed)."""
        examples_file = self.settings.intent_examples_file
        self._intents_stamp = _file_stamp(examples_file)
        try:
            self.intents = load_intent_classifier(examples_file, self.settings.model.cache_dir)
        except (OSError, ValueError) as error:  # a broken file keeps the classifier that was learnt before
            log.error("Keeping the intents learnt before: %s", error)

    def _follow_intent_examples(self) -> None:
        """An edit of the editors' intent file (by hand, or on another replica) is learnt in the background:
        answering goes on with the classifier it has until the new one is fitted."""
        if _file_stamp(self.settings.intent_examples_file) == self._intents_stamp:
            return
        if self._intents_loading.acquire(blocking=False):
            threading.Thread(target=self._reload_intents_in_background, name="tanya-intents", daemon=True).start()

    def _reload_intents_in_background(self) -> None:
        try:
            self.reload_intents()
        finally:
            self._intents_loading.release()

    # ------------------------------------------------------------------------------------------
    def _settle_calibration(self, *, wait: bool) -> None:
        """Choose the calibration for the index as it is now: set by hand, labelled, or self-made (made now when
        there is none for this model; made again in the background when the content changed since)."""
        serving = self._serving
        calibration, fresh = self._known_calibration(serving.index, serving.retriever)
        if calibration is not None:
            self._announce(calibration, serving.retriever)
            if not fresh:
                log.info("The knowledge base changed since its calibration; calibrating again in the background")
                self._recalibrate_in_background()
            return
        if not serving.retriever.records:
            log.info("The index is empty: nothing to calibrate on yet (threshold %.2f)", UNCALIBRATED_THRESHOLD)
            return
        if wait:
            self._recalibrate()
        else:
            self._recalibrate_in_background()

    def _known_calibration(self, index: KnowledgeIndex, retriever: HybridRetriever) -> tuple[Calibration | None, bool]:
        """The calibration for this index that needs no computing (set by hand, labelled, or self-made and kept
        with the index for this model), and whether it fits the content as it is now."""
        settings = index.settings
        if settings.answers.threshold is not None:
            return from_settings(settings.answers.threshold, settings.answers.confidence_weights), True
        model = model_identity(settings)
        labelled = read_labelled(settings.labelled_calibration_file, model, retriever.faq_entry_ids)
        if labelled is not None:
            return labelled, True
        stored = read_stored(index.info().get(INFO_KEY))
        if stored is not None and stored.model == model:
            return stored, stored.content == retriever.content_digest
        return None, False

    def wait_for_calibration(self) -> None:
        """Block until the calibration fits the current content (a background one finishes, or one is made now)."""
        for _ in range(3):  # a calibration that fails (a knowledge base too small) is not retried for ever
            with self._recalibrating:  # a background calibration under way ends first
                pass
            if not self._stale_calibration():
                return
            self._recalibrate()

    def _stale_calibration(self) -> bool:
        calibration = self.calibration
        return calibration.origin == Origin.SELF and calibration.content != self.retriever.content_digest

    def _announce(self, calibration: Calibration, retriever: HybridRetriever | None = None) -> None:
        if calibration != self.calibration and (retriever is None or retriever is self.retriever):
            log.info("Answering with the %s", calibration.describe())
        self.use_calibration(calibration, retriever)

    def _recalibrate_in_background(self) -> None:
        threading.Thread(target=self._recalibrate, name="tanya-calibration", daemon=True).start()

    def _recalibrate(self) -> None:
        """Self-calibrate on the retriever's current content, use it and keep it with the index (unless another
        replica holds the calibration lease: its result reaches this one through the index, `follow_index`)."""
        if not self._recalibrating.acquire(blocking=False):
            return  # one calibration at a time; the next refresh catches up with later changes
        if not self.leases.hold(CALIBRATION, CALIBRATION_LEASE_SECONDS):
            self._recalibrating.release()
            return
        try:
            while True:
                serving = self._serving
                known, fresh = self._known_calibration(serving.index, serving.retriever)
                if known is not None and fresh:  # another replica made it (its lease ended before this one's began)
                    self._announce(known, serving.retriever)
                    break
                frozen = serving.retriever.without(set())  # the content as it is now, whatever refreshes meanwhile
                calibration = calibrate(frozen)
                if serving.index is not self._serving.index:
                    break  # another model's index was swapped in meanwhile (and this one dropped)
                self._announce(calibration, serving.retriever)
                _keep(serving.index, calibration)
                if calibration.content == serving.retriever.content_digest:
                    break
        except Exception:  # answering goes on with the calibration it has
            log.exception("Self-calibration failed")
        finally:
            self.leases.release(CALIBRATION)
            self._recalibrating.release()

    # ------------------------------------------------------------------------------------------
    def answer(self, question: Question, now: datetime | None = None) -> Reply:
        """Decide what to do with one customer message."""
        with self._reading() as serving:  # one model, ranking and threshold for the whole question, whatever swaps
            return self.decide(self.assess(question, serving), serving.calibration.threshold, now)

    def assess(self, question: Question, serving: Serving | None = None) -> Assessment:
        """Everything the decision needs, independent of the threshold (the evals sweep thresholds over it)."""
        serving = serving or self._serving
        retriever, confidence_model = serving.retriever, serving.calibration.confidence_model
        raw = question.text[: self.settings.answers.max_question_chars].strip()
        lang = detect_language(raw)
        if not raw:
            return Assessment(lang, rule="empty")
        normalizer = retriever.normalizer
        self._follow_intent_examples()
        verdict = self.intents.classify(raw)
        rule = _INTENT_RULE.get(verdict.intent)
        if verdict.doubtful_privacy:  # never answered from the knowledge base: a person decides
            rule = HandoffReason.LOW_CONFIDENCE.value
        if rule is not None:
            return Assessment(lang, rule=rule, intent=verdict.intent, intent_confidence=verdict.confidence)
        text, candidates = self._with_context(raw, question, retriever, confidence_model)
        terms = len(normalizer.terms(text))
        # Off-topic is judged on words, not vectors: the English-trained model finds any Indonesian text "similar".
        in_domain = normalizer.mentions_domain(raw) or (
            bool(candidates) and candidates[0].lexical >= self.settings.answers.domain_threshold
        )
        return Assessment(
            lang,
            intent_confidence=verdict.confidence,
            candidates=tuple(candidates),
            confidence=confidence_model.confidence(candidates, terms),
            in_domain=in_domain,
            query_terms=terms,
        )

    def decide(self, assessment: Assessment, threshold: float, now: datetime | None = None) -> Reply:
        """The reply for an assessment at a given answer threshold."""
        lang, rule = assessment.lang, assessment.rule
        if rule == "empty":
            return Reply(Outcome.DECLINE, phrases.EMPTY[lang], lang, 0.0, reason=DeclineReason.EMPTY)
        if rule == "privacy":
            return Reply(Outcome.REFUSE, phrases.REFUSE[lang], lang, 1.0, reason=RefuseReason.PRIVACY)
        if rule == "greeting":
            return Reply(Outcome.DECLINE, phrases.GREETING[lang], lang, 1.0, reason=DeclineReason.GREETING)
        if rule is not None:
            return self.handoff_reply(HandoffReason(rule), lang, 1.0, now)
        confidence, candidates = assessment.confidence, assessment.candidates
        if candidates and confidence >= threshold:
            return self._answer_from(candidates[0], lang, confidence, list(candidates[1:]))
        if assessment.in_domain:
            return self.handoff_reply(HandoffReason.LOW_CONFIDENCE, lang, confidence, now)
        return Reply(Outcome.DECLINE, phrases.DECLINE[lang], lang, confidence, reason=DeclineReason.OFF_TOPIC)

    def _with_context(
        self, raw: str, question: Question, retriever: HybridRetriever, confidence_model: ConfidenceModel
    ) -> tuple[str, list[Candidate]]:
        """The text to retrieve with, and its ranking: a short follow-up ("kalau yang pascabayar?") is read
        together with the previous question."""
        previous = next((t.text for t in reversed(question.history) if t.role == MessageRole.CUSTOMER), None)
        if previous is None or len(retriever.normalizer.terms(raw)) > _FOLLOW_UP_MAX_TERMS:
            return raw, retriever.retrieve(raw)
        # Only the previous question's topic (its glossary terms) is carried over, not its verbs: after "cara
        # aktifkan roaming", "kalau mau matiin?" is about switching roaming off, not on.
        topic = " ".join(sorted(retriever.normalizer.telecom_terms(previous))) or previous
        combined = f"{topic} {raw}"
        if _FOLLOW_UP.match(raw.lower()):
            return combined, retriever.retrieve(combined)
        standalone = retriever.retrieve(raw)
        with_context = retriever.retrieve(combined)
        if confidence_model.confidence(with_context) > confidence_model.confidence(standalone):
            return combined, with_context
        return raw, standalone

    def _answer_from(self, top: Candidate, lang: str, confidence: float, others: list[Candidate]) -> Reply:
        meta = top.record.metadata
        if top.kind == SourceKind.FAQ:
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
