"""The intent classifier: a linear model over character and word n-grams and the rules' verdicts, learnt from the
labelled examples that ship with Tanya and the ones editors add (`kb/intents.csv`).

Why this shape: the messages are short and written in four registers with slang and typos, so character n-grams
carry most of the signal and need no tokeniser; the rules are kept as features because each is right most of the
time it fires; a linear model fits the 2,700 shipped examples in about five seconds (kept fitted in the model
cache), so an editor's new example is learnt while the bot goes on answering. The likeliest intent wins: thresholds
on its probability were tried on the choosing split and not kept (evals/README.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.core import intents
from bot.core.intents import Intent, IntentExample, parse_intent_examples
from bot.core.masking import mask_personal_data
from bot.core.shipped_data import DATA_DIR
from bot.core.text_normalizer import TextNormalizer

log = logging.getLogger(__name__)

# The labelled intent set Tanya ships and learns from: the training splits, and the splits its constants and cues
# were chosen on (refitted with them once chosen). Each file is one writer's (or one brief's): train.csv five
# writers, train_extra.csv a sixth on the hard privacy and ask-for-a-person cases, train_anger.csv a seventh on
# anger and its calm near misses, dev.csv and dev_hard.csv two more. The held-out split is evals/intents/heldout/,
# never learnt from.
INTENT_DATA = DATA_DIR / "intents"
TRAINING_SPLITS = (INTENT_DATA / "train.csv", INTENT_DATA / "train_extra.csv", INTENT_DATA / "train_anger.csv")
CHOOSING_SPLITS = (INTENT_DATA / "dev.csv", INTENT_DATA / "dev_hard.csv")
SHIPPED_SPLITS = (*TRAINING_SPLITS, *CHOOSING_SPLITS)

# Part of the cache key of a fitted classifier: raise it when features or fitting change.
CLASSIFIER_VERSION = 3

_MASKED_PHONE = re.compile(r"\[PHONE [^\]]*\]")
_MASKED_NIK = re.compile(r"\[NIK [^\]]*\]")
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class IntentRecipe:
    """The classifier's constants (chosen on the choosing splits with `python -m evals.intents --choose`)."""

    regularisation: float = 100.0  # LogisticRegression's C
    rule_weight: float = 3.0  # how loud the rules' verdicts and cues are beside the n-grams
    # A question at least this likely to be a request for someone's data goes to a person instead of being answered
    # (the officer refuses what must be refused): on the choosing splits 0.1 sent 5 of the 6 requests read as
    # questions to a person, and 7 of 280 ordinary questions.
    privacy_doubt: float = 0.1


DEFAULT_RECIPE = IntentRecipe()


@dataclass(frozen=True)
class IntentVerdict:
    """What the classifier makes of a message."""

    intent: Intent
    confidence: float
    by_rule: bool = False  # decided by a certain rule, not the model
    # Read as a question, but likely enough a request for someone's data that a person should see it first.
    doubtful_privacy: bool = False


def rule_text(raw: str, normalizer: TextNormalizer) -> str:
    """The text the rules read: the message lower-cased, and its normalised words on a second line."""
    return f"{raw.lower()}\n{' '.join(normalizer.words(raw))}"


def prepared(text: str) -> str:
    """The text the n-grams see: personal numbers as one token (an editor's examples are stored masked)."""
    masked = _MASKED_NIK.sub(" xnik ", _MASKED_PHONE.sub(" xphone ", mask_personal_data(text)))
    return " ".join(_DIGITS.sub("0", masked.lower()).split())


class IntentClassifier:
    """Fitted on labelled examples; `classify` returns the intent of one message."""

    def __init__(self, examples: Iterable[IntentExample], recipe: IntentRecipe = DEFAULT_RECIPE) -> None:
        self.examples = list(examples)
        if len({e.intent for e in self.examples}) < 2:
            raise ValueError("intent examples of at least two intents are needed")
        self.recipe = recipe
        self._normalizer = TextNormalizer()
        self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1)
        self._words = TfidfVectorizer(
            analyzer="word", token_pattern=r"\S+", ngram_range=(1, 2), sublinear_tf=True, min_df=1
        )
        texts = [e.text for e in self.examples]
        self._chars.fit(prepared(t) for t in texts)
        self._words.fit(self._word_text(t) for t in texts)
        self._model = LogisticRegression(C=recipe.regularisation, max_iter=3000, class_weight="balanced")
        self._model.fit(self._features(texts), [e.intent.value for e in self.examples])
        self._classes = [Intent(c) for c in self._model.classes_]

    def _word_text(self, text: str) -> str:
        return " ".join(self._normalizer.words(prepared(text)))

    def _features(self, texts: list[str], rule_texts: list[str] | None = None) -> sparse.csr_matrix:
        rule_texts = rule_texts or [rule_text(t, self._normalizer) for t in texts]
        rules = np.array([intents.rule_signals(t, r) for t, r in zip(texts, rule_texts, strict=True)], dtype=np.float64)
        return sparse.hstack(
            [
                self._chars.transform([prepared(t) for t in texts]),
                self._words.transform([self._word_text(t) for t in texts]),
                sparse.csr_matrix(rules * self.recipe.rule_weight),
            ],
            format="csr",
        )

    def probabilities(self, texts: list[str], rule_texts: list[str] | None = None) -> list[dict[Intent, float]]:
        """Each text's probability for every intent (before the certain rules); `rule_texts`, when the caller has
        them already, are the texts' `rule_text`."""
        if not texts:
            return []
        rows = self._model.predict_proba(self._features(texts, rule_texts))
        return [dict(zip(self._classes, map(float, row), strict=True)) for row in rows]

    def classify(self, raw: str) -> IntentVerdict:
        """The intent of one message: a certain rule's, else the model's (a question when it is not sure)."""
        return self.classify_many([raw])[0]

    def classify_many(self, texts: list[str]) -> list[IntentVerdict]:
        rule_texts = [rule_text(t, self._normalizer) for t in texts]  # the normaliser's words, once a message
        verdicts: list[IntentVerdict | None] = []
        for text, rules_read in zip(texts, rule_texts, strict=True):
            certain = intents.certain_intent(text, rules_read)
            verdicts.append(IntentVerdict(certain, 1.0, by_rule=True) if certain else None)
        undecided = [i for i, v in enumerate(verdicts) if v is None]
        scored = self.probabilities([texts[i] for i in undecided], [rule_texts[i] for i in undecided])
        for i, scores in zip(undecided, scored, strict=True):
            verdict = self.decide(scores)
            wants_person = intents.asks_for_person(rule_texts[i]) or intents.asks_for_callback(rule_texts[i])
            if verdict.intent == Intent.OTHER_PERSON_DATA and wants_person:
                # A customer who asks for a person gets one, whatever else the message asks: the officer refuses
                # what must be refused, and "nomor ini tidak bisa SMS, saya mau bicara dengan petugas" is served.
                verdict = IntentVerdict(Intent.ASK_PERSON, scores.get(Intent.ASK_PERSON, 0.0))
            verdicts[i] = verdict
        return [v for v in verdicts if v is not None]

    def decide(self, scores: Mapping[Intent, float]) -> IntentVerdict:
        """The verdict for a row of probabilities: the likeliest intent (a question in doubt says so)."""
        best = max(scores, key=lambda i: scores[i])
        doubtful = best == Intent.QUESTION and scores.get(Intent.OTHER_PERSON_DATA, 0.0) >= self.recipe.privacy_doubt
        return IntentVerdict(best, scores[best], doubtful_privacy=doubtful)


def read_intent_examples(path: Path) -> list[IntentExample]:
    """The examples in an intent CSV file; none when the file does not exist."""
    if not path.is_file():
        return []
    return parse_intent_examples(path.read_text(encoding="utf-8-sig"), str(path))


def _text(content: bytes) -> str:
    return content.decode("utf-8-sig")


def merged(shipped: Iterable[IntentExample], editors: Iterable[IntentExample]) -> list[IntentExample]:
    """One example per text (as the n-grams see it): an editor's label wins over a shipped one."""
    by_text = {prepared(e.text): e for e in shipped}
    by_text.update({prepared(e.text): e for e in editors})
    return list(by_text.values())


_CACHED_KEPT = 4
_fitted: dict[str, IntentClassifier] = {}
_fitting = threading.Lock()


def _cache_key(shipped: list[bytes], editors_text: str, recipe: IntentRecipe) -> str:
    digest = hashlib.sha256(f"{CLASSIFIER_VERSION}|{sklearn.__version__}|{recipe!r}".encode())
    for content in (*shipped, editors_text.encode()):
        digest.update(hashlib.sha256(content).digest())
    return digest.hexdigest()[:16]


def _read_cached(path: Path) -> IntentClassifier | None:
    try:
        with path.open("rb") as file:
            found = pickle.load(file)  # written by this function's twin below, in Tanya's own model cache
    except FileNotFoundError:
        return None
    except Exception:  # a half-written or foreign file: fitted again and overwritten
        log.warning("Ignoring the unreadable intent classifier %s", path)
        return None
    with contextlib.suppress(OSError):  # kept by last use: the shipped-only one outlives a run of editors' edits
        os.utime(path)
    return found if isinstance(found, IntentClassifier) else None


def _write_cached(path: Path, classifier: IntentClassifier) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        with partial.open("wb") as file:
            pickle.dump(classifier, file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, path)
        # Each editors' change fits a new one: keep the few used last, so a rollback or another replica finds its own.
        kept = sorted(path.parent.glob("intents-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in kept[_CACHED_KEPT:]:
            stale.unlink(missing_ok=True)
    except OSError as error:  # a read-only cache only costs the next start a fit
        log.warning("Could not keep the intent classifier in %s: %s", path.parent, error)


def load_intent_classifier(
    editors_file: Path | None, cache_dir: Path | None = None, recipe: IntentRecipe = DEFAULT_RECIPE
) -> IntentClassifier:
    """The classifier learnt from the shipped examples and, when it exists, the editors' file. Fitting takes a few
    seconds, so a fitted classifier is kept per content of those files: in memory (engines opened on one knowledge
    base share it) and in `cache_dir` (the next start, other processes)."""
    editors_text = editors_file.read_text(encoding="utf-8-sig") if editors_file and editors_file.is_file() else ""
    shipped_files = {path: path.read_bytes() for path in SHIPPED_SPLITS}
    key = _cache_key(list(shipped_files.values()), editors_text, recipe)
    with _fitting:
        if key in _fitted:
            return _fitted[key]
        cached_file = cache_dir / f"intents-{key}.pickle" if cache_dir is not None else None
        classifier = _read_cached(cached_file) if cached_file is not None else None
        if classifier is None:
            shipped = [
                e for path, content in shipped_files.items() for e in parse_intent_examples(_text(content), str(path))
            ]
            editors = parse_intent_examples(editors_text, str(editors_file)) if editors_text else []
            classifier = IntentClassifier(merged(shipped, editors), recipe)
            log.info("Intent classifier learnt from %d shipped and %d editors' examples", len(shipped), len(editors))
            if cached_file is not None:
                _write_cached(cached_file, classifier)
        _fitted[key] = classifier
        return classifier
