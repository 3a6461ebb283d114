"""The telecom vocabulary that ships with Tanya, so an operator without a glossary still gets slang folded and
routine telecom questions recognised as in the domain (`bot/data/telecom_vocabulary.yaml`)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from indoNLP.preprocessing import STOPWORDS
from ruamel.yaml import YAML

from bot.core.glossary import Glossary
from bot.core.language import ENGLISH_WORDS, INDONESIAN_WORDS
from bot.core.shipped_data import DATA_DIR

VOCABULARY_FILE = DATA_DIR / "telecom_vocabulary.yaml"
OFF_TOPIC_FILE = DATA_DIR / "off_topic_questions.txt"
# A name the knowledge base always capitalises (the operator, its app, its products: "MyCakra", "Samudra Ku") in
# at least this share of its entries and sections marks a message as being about the operator; a country or a
# city named in a few roaming entries does not.
NAME_MIN_SHARE = 0.05
NAME_MIN_UNITS = 3
NAME_CAPITALISED = 0.9
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+]*")
_SENTENCE = re.compile(r"[.!?:;\n|*#>\-–—()\"]+\s*")
_CALENDAR = frozenset(
    """senin selasa rabu kamis jumat sabtu minggu januari februari maret april mei juni juli agustus september
    oktober november desember monday tuesday wednesday thursday friday saturday sunday january february march
    june july august october december""".split()
)


@dataclass(frozen=True)
class TelecomVocabulary:
    """Synonyms every operator's glossary is merged over, and the words that only telecom messages use."""

    glossary: Glossary
    domain_words: frozenset[str]


@lru_cache(maxsize=1)
def shipped_vocabulary() -> TelecomVocabulary:
    """The vocabulary file read once per process."""
    document = YAML(typ="safe").load(VOCABULARY_FILE.read_text(encoding="utf-8"))
    glossary = Glossary.from_mapping(document["synonyms"])
    words = frozenset(str(word).strip().lower() for word in document["domain"])
    return TelecomVocabulary(glossary, words)


@lru_cache(maxsize=1)
def off_topic_questions() -> tuple[str, ...]:
    """Questions no telecom knowledge base answers (shipped with Tanya; self-calibration's negatives)."""
    lines = OFF_TOPIC_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


@lru_cache(maxsize=1)
def _everyday_words() -> frozenset[str]:
    words = {w for text in off_topic_questions() for w in re.findall(r"[a-z0-9]+", text.lower())}
    return frozenset(words | ENGLISH_WORDS | INDONESIAN_WORDS | _CALENDAR | frozenset(STOPWORDS))


def knowledge_base_names(texts_by_unit: Iterable[Iterable[str]]) -> frozenset[str]:
    """The names a knowledge base nearly always capitalises, in a good share of its entries and sections, less
    everyday words: the operator's own vocabulary, without a glossary."""
    units_naming: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    capitalised: Counter[str] = Counter()
    units = 0
    for texts in texts_by_unit:
        units += 1
        named: set[str] = set()
        for text in texts:
            for sentence in _SENTENCE.split(text):
                for word in _WORD.findall(sentence)[1:]:  # a sentence's first word is capitalised anyway
                    key = word.lower()
                    seen[key] += 1
                    if word[0].isupper():
                        capitalised[key] += 1
                        named.add(key)
        units_naming.update(named)
    everyday = _everyday_words()
    least = max(NAME_MIN_UNITS, NAME_MIN_SHARE * units)
    return frozenset(
        name
        for name, count in units_naming.items()
        if count >= least
        and capitalised[name] >= NAME_CAPITALISED * seen[name]
        and len(name) >= 3
        and not any(c.isdigit() for c in name)
        and name not in everyday
    )
