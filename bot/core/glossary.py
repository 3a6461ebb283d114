"""The editors' glossary: telecom synonyms, slang and Indonesian-English equivalents, folded to one term."""

from __future__ import annotations

import re


def _words(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"[a-z0-9]+", text.lower()))


class Glossary:
    """Maps every variant (one or more words) to its canonical term."""

    def __init__(self, synonyms: dict[str, tuple[str, ...]] | None = None) -> None:
        self.synonyms = dict(synonyms or {})
        self._phrases: dict[tuple[str, ...], tuple[str, ...]] = {}
        for canonical, variants in self.synonyms.items():
            target = _words(canonical)
            for variant in (canonical, *variants):
                if _words(variant):
                    self._phrases[_words(variant)] = target
        self._longest = max((len(p) for p in self._phrases), default=1)

    @classmethod
    def from_mapping(cls, raw: dict[str, list[str]]) -> Glossary:
        return cls({str(k).strip().lower(): tuple(str(v).strip().lower() for v in vs) for k, vs in raw.items()})

    def as_mapping(self) -> dict[str, list[str]]:
        return {canonical: list(variants) for canonical, variants in self.synonyms.items()}

    def canonicalize(self, words: list[str]) -> list[str]:
        """Replace each variant (longest phrase first) with its canonical term's words."""
        out: list[str] = []
        i = 0
        while i < len(words):
            for size in range(min(self._longest, len(words) - i), 0, -1):
                target = self._phrases.get(tuple(words[i : i + size]))
                if target is not None:
                    out.extend(target)
                    i += size
                    break
            else:
                out.append(words[i])
                i += 1
        return out

    def merged_over(self, base: Glossary) -> Glossary:
        """This glossary with `base`'s groups added beneath it: a word this glossary lists keeps its group here, and
        a base group whose canonical term this glossary lists joins that group (the operator's glossary over the
        shipped telecom vocabulary)."""
        owner = {_words(v): canonical for canonical, variants in self.synonyms.items() for v in (canonical, *variants)}
        merged = {canonical: list(variants) for canonical, variants in self.synonyms.items()}
        for canonical, variants in base.synonyms.items():
            target = owner.get(_words(canonical), canonical)
            group = merged.setdefault(target, [])
            for variant in (canonical, *variants):
                key = _words(variant)
                if key and key not in owner and variant != target:
                    owner[key] = target
                    group.append(variant)
            owner.setdefault(_words(target), target)
        return Glossary({canonical: tuple(variants) for canonical, variants in merged.items()})

    def canonical_terms(self) -> frozenset[str]:
        """The canonical words: a question holding one of them is about telecom."""
        return frozenset(w for canonical in self.synonyms for w in _words(canonical))
