"""The editors' intent examples (kb/intents.csv, `text,intent`): what marking a question's intent in the content
editor writes.

A marked text replaces the label of the same text (compared without case or extra spaces) and is added otherwise;
the other lines and columns stay as they were. The file is checked before and after and replaced in one step, so a
broken file is never made worse and a reader (another replica) sees the old file or the new one.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.core.intents import Intent, IntentFileError, parse_intent_examples
from ingest.reindexed_write import atomic_write

_COLUMNS = ["text", "intent"]


@dataclass(frozen=True)
class TaughtExamples:
    """What one marking changed in the file."""

    added: int
    relabelled: int
    unchanged: int


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


class IntentExamplesEditor:
    """Writes editors' intent examples; `on_saved()` runs after each write (the engine learns the file again)."""

    def __init__(self, path: Path, on_saved: Callable[[], None] | None = None) -> None:
        self.path = path
        self.on_saved = on_saved
        self._lock = threading.Lock()

    def teach(self, texts: Sequence[str], intent: Intent) -> TaughtExamples:
        """Label each of `texts` `intent` in the file. A file that cannot be read raises `IntentFileError`
        (nothing is written); so does a write that fails (the file is as it was)."""
        wanted = list(dict.fromkeys(" ".join(t.split()) for t in texts if t.strip()))
        if not wanted:
            raise IntentFileError("there is no text to mark")
        with self._lock:
            old = self.path.read_text(encoding="utf-8-sig") if self.path.exists() else ""
            if old.strip():
                parse_intent_examples(old, self.path.name)  # a broken file is fixed by hand first, not rewritten
            header, rows = _rows(old)
            position = {_key(row.get("text") or ""): n for n, row in enumerate(rows)}
            added = relabelled = unchanged = 0
            for text in wanted:
                found = position.get(_key(text))
                if found is None:
                    position[_key(text)] = len(rows)
                    rows.append({"text": text, "intent": intent.value})
                    added += 1
                elif rows[found].get("intent", "").strip() != intent.value:
                    rows[found]["intent"] = intent.value
                    relabelled += 1
                else:
                    unchanged += 1
            new = _render(header, rows)
            learnt = {_key(e.text): e.intent for e in parse_intent_examples(new, self.path.name)}
            if any(learnt.get(_key(text)) is not intent for text in wanted):  # proof before the write
                raise IntentFileError(f"could not write the examples to {self.path.name} safely; nothing was saved")
            try:
                atomic_write(self.path, new.encode("utf-8"))
            except OSError as error:
                raise IntentFileError(
                    f"{self.path.name} could not be written ({error.strerror or error}); nothing was saved"
                ) from error
        if self.on_saved is not None:
            self.on_saved()
        return TaughtExamples(added, relabelled, unchanged)


def _rows(content: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(content))
    rows = [dict(row) for row in reader]
    header = list(reader.fieldnames or _COLUMNS)
    return header, rows


def _render(header: list[str], rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({column: row.get(column) or "" for column in header} for row in rows)
    return out.getvalue()
