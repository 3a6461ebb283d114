"""Normalising everyday Indonesian and English into comparable terms for lexical retrieval.

Steps: lower-case, fold elongated words (indoNLP), replace Indonesian slang (indoNLP's dictionary, but never
on English words or glossary variants), fold glossary synonyms to their canonical term, stem with Sastrawi,
drop stopwords.
"""

from __future__ import annotations

import re
from functools import lru_cache

from indoNLP.preprocessing import SLANG_DATA, STOPWORDS, replace_word_elongation
from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

from bot.core.glossary import Glossary
from bot.core.language import ENGLISH_WORDS

_WORD = re.compile(r"[a-z0-9]+")
# English contractions: "can't" keeps its "not", "friend's", "I'm" and "we'll" lose the ending (which slang
# replacement would read as "si", "sama").
_NOT = re.compile(r"\b(ca|wo|[a-z]+)n['’]t\b")
_CONTRACTION = re.compile(r"(?<=[a-z])['’](s|m|re|ll|ve|d)\b")
# A letter typed three times, or doubled at the end of a longer word ("masukkk", "ngecekk"); "app", "sell" and
# "kk" are words, not elongations.
_ELONGATED = re.compile(r"(.)\1\1|^.{3,}(.)\2$")
_ENGLISH_STOPWORDS = frozenset(
    """a about am an and are as at be been but by can could did do does for from had has have how i if in into
    is it its me my of on or our please so than that the their them then there these they this to too was we
    were what when where which who why will with would you your""".split()
)
# Words that carry the question's meaning even though stopword lists drop them.
_KEPT = frozenset({"tidak", "enggak", "bisa", "kenapa", "berapa", "siapa", "tanpa", "belum", "no", "not", "how"})
_STOPWORDS = (frozenset(STOPWORDS) | _ENGLISH_STOPWORDS) - _KEPT
# indoNLP entries that would damage telecom vocabulary.
_SLANG_EXCEPTIONS = frozenset({"no", "hp", "sms", "pin", "puk", "apn", "sim", "cs", "wa", "mb", "gb", "week", "see"})


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    return StemmerFactory().create_stemmer()


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    """Sastrawi's stem of one word (cached: the same words recur in every question)."""
    if not word.isalpha() or word in ENGLISH_WORDS or len(word) <= 3:
        return word
    result: str = _stemmer().stem(word)
    return result or word


def _spell_out_not(match: re.Match[str]) -> str:
    """ "can't" -> "can not", "won't" -> "will not", "doesn't" -> "does not"."""
    word = match.group(1)
    return {"ca": "can", "wo": "will"}.get(word, word) + " not"


class TextNormalizer:
    """Turns text into the terms lexical retrieval compares."""

    def __init__(
        self,
        glossary: Glossary | None = None,
        *,
        domain_words: frozenset[str] = frozenset(),
        domain_terms: frozenset[str] | None = None,
    ) -> None:
        """`domain_words` mark a message as telecom wherever they stand (the shipped vocabulary); `domain_terms`
        do so once the glossary has folded the message (the operator's canonical terms; default: the glossary's)."""
        self.glossary = glossary or Glossary()
        self._canonical_words = self.glossary.canonical_terms()
        self._domain_terms = self._canonical_words if domain_terms is None else domain_terms
        single = {w for w in domain_words if " " not in w}
        self._domain_words = frozenset(single) | frozenset(stem(w) for w in single)
        self._domain_phrases = tuple(f" {w} " for w in domain_words if " " in w)
        self._protected = frozenset(
            w
            for canonical, variants in self.glossary.synonyms.items()
            for t in (canonical, *variants)
            for w in _WORD.findall(t)
        )

    def words(self, text: str) -> list[str]:
        """Lower-cased words with elongation folded and slang replaced (no stemming, no glossary)."""
        out: list[str] = []
        text = _CONTRACTION.sub("", _NOT.sub(_spell_out_not, text.lower()))
        for word in _WORD.findall(text):
            if word in ENGLISH_WORDS or word in self._protected or word in _SLANG_EXCEPTIONS:
                out.append(word)  # "bill" and "call" are not elongated, "do" is not slang
                continue
            folded = replace_word_elongation(word) if _ELONGATED.search(word) else word
            if folded not in SLANG_DATA and folded.endswith("nya") and len(folded) > 6:
                base = folded[:-3]  # the enclitic hides a known word: "matiinnya", "kuotanya", "apnnya"
                if base in SLANG_DATA or base in self._protected:
                    folded = base
            out.extend(_WORD.findall(SLANG_DATA.get(folded, folded)))
        return out

    def terms(self, text: str) -> list[str]:
        """The content terms of a text: canonical glossary terms and stems, without stopwords."""
        canonical = self.glossary.canonicalize(self.words(text))
        stemmed = self.glossary.canonicalize([w if w in self._canonical_words else stem(w) for w in canonical])
        return [w for w in stemmed if w not in _STOPWORDS]

    def telecom_terms(self, text: str) -> set[str]:
        """The glossary's canonical terms that the text mentions."""
        return {w for w in self.terms(text) if w in self._canonical_words}

    def mentions_domain(self, text: str) -> bool:
        """Whether the text uses a word only telecom messages use, or one of the domain terms once folded."""
        words = self.words(text)
        if any(w in self._domain_words or stem(w) in self._domain_words for w in words):
            return True
        joined = f" {' '.join(words)} "
        if any(phrase in joined for phrase in self._domain_phrases):
            return True
        return any(t in self._domain_terms for t in self.terms(text))
