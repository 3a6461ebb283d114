"""The tuning corpus Tanya ships: many ways customers ask common telecom questions, in all four registers, which a
`tuned:` model learns (`bot/data/tuning_corpus.yaml`; `tune_on` says whether beside the knowledge base's own).

An operator's FAQ has one question and two or three alternates an entry: too few for the model to learn how
customers really write, and a model tuned on so few overfits them (evals/README.md: on sparse knowledge bases a model
tuned on the corpus alone answered as well as one tuned on the corpus and the operator's entries, with fewer wrong
answers). From the corpus the model learns slang, abbreviations and English for the telecom intents every operator
answers. The corpus is the demo knowledge base's phrasings without their answers, with the glossary its slang is
folded by when the model learns it, so the model tuned on the corpus is the demo's model, the same for every
knowledge base, and every figure measured with the demo's model holds for it. The demo operator's names are kept
(they are fictional; taking them out made another model). When the model learns the knowledge base too, a corpus
group sharing a phrasing with an entry is left out: two groups of the same phrasings would be pushed apart.

`python -m ingest.tuning_corpus KB_DIR [--name NAME ...]` writes the corpus again from a knowledge base's entries,
taking out the names given.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ruamel.yaml import YAML

from bot.core.glossary import Glossary
from bot.core.shipped_data import DATA_DIR
from ingest.faq_files import FaqEntry
from ingest.knowledge_base import load_knowledge_base

CORPUS_FILE = DATA_DIR / "tuning_corpus.yaml"
ID_PREFIX = "corpus:"


@dataclass(frozen=True)
class TuningCorpus:
    """Groups of phrasings (FAQ entries without answers, ids prefixed `corpus:`), the operator names that were
    taken out of them, and the glossary of synonyms their slang-normalised forms are made with."""

    entries: tuple[FaqEntry, ...]
    names: tuple[str, ...] = ()
    glossary: Glossary = field(default_factory=Glossary)

    def without_names(self, text: str) -> str:
        """`text` with the names taken out, for comparing the knowledge base's phrasings with the corpus's."""
        return _without(text, self.names)

    def beside(self, entries: Iterable[FaqEntry]) -> list[FaqEntry]:
        """The corpus entries to learn beside `entries`: those sharing no phrasing with any of them."""
        known = {_key(self.without_names(t)) for entry in entries for t in (entry.question, *entry.alternates)}
        return [
            extra
            for extra in self.entries
            if not any(_key(text) in known for text in (extra.question, *extra.alternates))
        ]


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


def _without(text: str, names: tuple[str, ...]) -> str:
    if not names:
        return text
    return re.sub(r"\s+([,.?!])", r"\1", " ".join(_names_pattern(names).sub(" ", text).split()))


@lru_cache(maxsize=4)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    """The names as whole words (with Indonesian "-nya"), made once for all of a knowledge base's phrasings."""
    return re.compile(r"\b(?:" + "|".join(re.escape(n) for n in names) + r")(?:nya)?\b", re.IGNORECASE)


@lru_cache(maxsize=2)
def shipped_corpus(path: Path = CORPUS_FILE) -> TuningCorpus:
    """The corpus that ships with Tanya (or the one at `path`)."""
    raw = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    entries = tuple(
        FaqEntry(
            id=ID_PREFIX + str(item["id"]),
            question=str(item["question"]),
            answer="",
            alternates=tuple(str(text) for text in item.get("alternates") or ()),
            source=path.name,
        )
        for item in raw.get("groups") or ()
    )
    names = tuple(str(name) for name in raw.get("names_removed") or ())
    return TuningCorpus(entries, names, Glossary.from_mapping(raw.get("glossary") or {}))


def write_corpus(
    entries: Iterable[FaqEntry], path: Path, names: tuple[str, ...] = (), glossary: Glossary | None = None
) -> int:
    """Write the phrasings of `entries` (those with alternates), `names` taken out, and the `glossary` their
    knowledge base folds slang with, as a corpus file; returns how many groups were written. Longer names first,
    so "MyNusantel" goes whole before "Nusantel" is looked for."""
    names = tuple(sorted(names, key=len, reverse=True))
    groups = []
    for entry in entries:
        texts: dict[str, str] = {}  # the first of each phrasing alike but for case and spacing
        for text in (_without(t, names) for t in (entry.question, *entry.alternates)):
            texts.setdefault(_key(text), text)
        if len(texts) >= 2:
            question, *alternates = texts.values()
            groups.append({"id": entry.id, "question": question, "alternates": alternates})
    yaml = YAML()
    yaml.width = 4096
    with path.open("w", encoding="utf-8") as handle:
        handle.write(
            "# Ways customers ask common telecom questions, learnt by every tuned model (ingest/tuning_corpus.py).\n"
            "# Written by `python -m ingest.tuning_corpus`; edit it freely.\n"
        )
        mapping = (glossary or Glossary()).as_mapping()
        yaml.dump({"names_removed": list(names), "glossary": mapping, "groups": groups}, handle)
    return len(groups)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest.tuning_corpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("kb_dir", type=Path, help="the knowledge base whose FAQ phrasings become the corpus")
    parser.add_argument("--name", action="append", default=[], help="an operator or product name to take out")
    parser.add_argument("--output", type=Path, default=CORPUS_FILE)
    args = parser.parse_args(argv)
    kb = load_knowledge_base([args.kb_dir], args.kb_dir)
    written = write_corpus(kb.entries, args.output, tuple(args.name), kb.glossary)
    print(f"{written} groups of phrasings written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
