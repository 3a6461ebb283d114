"""Labelled question sets: one row per question with the expected FAQ id (or document) or outcome."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

OUTCOME_LABELS = {"handoff", "refuse", "decline"}
IN_SCOPE_CATEGORIES = ("informal", "formal", "english", "mixed")


@dataclass(frozen=True)
class LabelledQuestion:
    """A question and what the bot should do with it."""

    question: str
    expected: str  # an FAQ id, "doc:<path>" for any section of a document, or handoff/refuse/decline
    category: str

    @property
    def in_scope(self) -> bool:
        """The knowledge base holds the answer."""
        return self.expected not in OUTCOME_LABELS

    def matches(self, source: str | None) -> bool:
        """Whether an answer's source is the expected one."""
        if source is None or not self.in_scope:
            return False
        if self.expected.startswith("doc:"):
            return source.split("#", 1)[0] == self.expected.removeprefix("doc:")
        return source == self.expected


def load_labelled_set(path: Path) -> list[LabelledQuestion]:
    """Rows of a CSV with the header question,expected,category, or a YAML list of mappings with those keys
    (`category` may be left out: informal)."""
    rows = _yaml_rows(path) if path.suffix.lower() in {".yaml", ".yml"} else _csv_rows(path)
    questions = [
        LabelledQuestion(
            str(r.get("question") or "").strip(),
            str(r.get("expected") or "").strip(),
            str(r.get("category") or "informal").strip(),
        )
        for r in rows
        if isinstance(r, dict) and str(r.get("question") or "").strip()
    ]
    unlabelled = [q.question for q in questions if not q.expected]
    if unlabelled:
        raise ValueError(f"{path}: questions without an expected answer, e.g. {unlabelled[0]!r}")
    if not questions:
        raise ValueError(f"{path}: no labelled questions (expected the fields question, expected, category)")
    return questions


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _yaml_rows(path: Path) -> list[object]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        document = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except YAMLError as error:
        raise ValueError(f"{path}: malformed YAML ({error})") from None
    if isinstance(document, dict):
        document = document.get("questions")
    if not isinstance(document, list):
        raise ValueError(f"{path}: expected a list of questions (or a mapping with a 'questions:' list)")
    return document


def unknown_expectations(questions: list[LabelledQuestion], known_refs: set[str]) -> list[str]:
    """Expected FAQ ids / documents that the index does not hold (a stale labelled set)."""
    known_docs = {ref.split("#", 1)[0] for ref in known_refs}
    missing = []
    for q in questions:
        if not q.in_scope:
            continue
        target = q.expected.removeprefix("doc:")
        if (q.expected.startswith("doc:") and target not in known_docs) or (
            not q.expected.startswith("doc:") and target not in known_refs
        ):
            missing.append(q.expected)
    return sorted(set(missing))
