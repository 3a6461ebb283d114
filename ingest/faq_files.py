"""Reading FAQ entries from YAML (a list, or a mapping with `faq:`) and CSV files, with line numbers."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bot.settings import INTENT_EXAMPLES_FILE_NAME
from ingest.problems import Problem

MAX_FILE_BYTES = 20 * 1024 * 1024
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# An entry's fields in the order files are written (the editor, CSV headers); the first three are required.
FAQ_FIELDS = ("id", "question", "alternates", "answer", "answer_en", "tags")
REQUIRED_FIELDS = ("id", "question", "answer")


FAQ_SUFFIXES = frozenset({".yaml", ".yml", ".csv"})
GLOSSARY_NAMES = frozenset({"glossary.yaml", "glossary.yml"})  # YAML too, but the glossary, not entries
INTENT_EXAMPLES_NAMES = frozenset({INTENT_EXAMPLES_FILE_NAME})  # CSV too, but the editors' intent examples


def is_faq_file(path: Path) -> bool:
    """Whether `path` is read as a file of FAQ entries (by ingest and by the editor alike)."""
    name = path.name.lower()
    return path.suffix.lower() in FAQ_SUFFIXES and name not in GLOSSARY_NAMES and name not in INTENT_EXAMPLES_NAMES


@dataclass(frozen=True)
class FaqEntry:
    """One question the operator answers, with the other ways customers ask it."""

    id: str
    question: str
    answer: str
    alternates: tuple[str, ...] = ()
    answer_en: str | None = None
    tags: tuple[str, ...] = ()
    source: str = ""  # the file it came from, relative to the knowledge-base root
    line: int | None = None

    def content(self) -> dict[str, Any]:
        """The fields that make up the entry (what its content hash covers)."""
        fields = {name: getattr(self, name) for name in FAQ_FIELDS}
        return {name: list(value) if isinstance(value, tuple) else value for name, value in fields.items()}


@dataclass
class FaqFileResult:
    entries: list[FaqEntry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def read_text_file(path: Path, shown: str) -> tuple[str | None, Problem | None]:
    """A file's UTF-8 text, or a problem saying why it cannot be read."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, Problem(shown, f"file is too large ({size} bytes; the limit is {MAX_FILE_BYTES})")
        raw = path.read_bytes()
    except OSError as error:
        return None, Problem(shown, f"cannot read file: {error.strerror or error}")
    if b"\x00" in raw:
        return None, Problem(shown, "file is binary, not text")
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        return None, Problem(shown, f"file is not UTF-8 text (byte {error.start}); save it as UTF-8", line)


def _text_list(value: Any, separator: str | None = None) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, str):
        parts = value.split(separator) if separator else [value]
        return [p.strip() for p in parts if p.strip()]
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v).strip() for v in value if str(v).strip()]
    return None


def _entry_from_mapping(raw: Any, shown: str, line: int | None, separator: str | None) -> FaqEntry | Problem:
    if not isinstance(raw, dict):
        return Problem(shown, "an FAQ entry must be a mapping with id, question and answer", line)
    missing = [f for f in REQUIRED_FIELDS if raw.get(f) is None or not str(raw.get(f)).strip()]
    if missing:
        label = f"entry '{raw.get('id')}'" if raw.get("id") else "entry"
        return Problem(shown, f"{label} is missing {', '.join(missing)}", line)
    entry_id = str(raw["id"]).strip()
    if not _ID_PATTERN.match(entry_id):
        return Problem(shown, f"id '{entry_id}' must be letters, digits, '-', '_' or '.' (at most 100)", line)
    alternates = _text_list(raw.get("alternates"), separator)
    tags = _text_list(raw.get("tags"), separator)
    if alternates is None or tags is None:
        return Problem(shown, f"entry '{entry_id}': alternates and tags must be lists of text", line)
    for name in ("question", "answer", "answer_en"):
        if raw.get(name) is not None and not isinstance(raw.get(name), (str, int, float)):
            return Problem(shown, f"entry '{entry_id}': {name} must be text", line)
    answer_en = str(raw["answer_en"]).strip() if raw.get("answer_en") not in (None, "") else None
    return FaqEntry(
        id=entry_id,
        question=str(raw["question"]).strip(),
        answer=str(raw["answer"]).strip(),
        alternates=tuple(alternates),
        answer_en=answer_en,
        tags=tuple(tags),
        source=shown,
        line=line,
    )


def read_faq_yaml(text: str, shown: str) -> FaqFileResult:
    """Entries of a YAML FAQ file: a top-level list, or a mapping whose `faq:` key holds the list."""
    result = FaqFileResult()
    try:
        document = YAML(typ="rt").load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        result.problems.append(Problem(shown, f"malformed YAML: {problem}", line))
        return result
    if document is None:
        return result
    items = document.get("faq") if isinstance(document, dict) else document
    if not isinstance(items, list):
        result.problems.append(Problem(shown, "expected a list of FAQ entries, or a mapping with a 'faq:' list", 1))
        return result
    for index, raw in enumerate(items):
        line = items.lc.item(index)[0] + 1 if hasattr(items, "lc") else None
        parsed = _entry_from_mapping(raw, shown, line, None)
        (result.problems if isinstance(parsed, Problem) else result.entries).append(parsed)  # type: ignore[arg-type]
    return result


_QUOTING = 'quote a whole cell, and write a quote inside a quoted cell as two ("")'


def _stray_quote(text: str, shown: str) -> Problem | None:
    """The first quote that breaks the CSV structure, named at the line where its quoted cell opens.

    Python's csv reader (when not strict) reads a quote that is never closed as one cell running to the end of the
    file, and text after a closing quote as more of the cell: either way the rows in between become one cell.
    """
    line = opened = 1
    state = "start"  # of a cell; or "cell" (unquoted), "quoted", "quote" (a quote inside a quoted cell)
    for char in text:
        if state == "quoted":
            state = "quote" if char == '"' else state
        elif state == "quote" and char == '"':
            state = "quoted"  # a doubled quote stands for one quote character
        elif state == "quote" and char not in ",\r\n":
            where = "" if line == opened else f" (on line {line}), so the rows between are read into one cell"
            return Problem(shown, f"text follows the closing quote of a quoted cell{where}; {_QUOTING}", opened)
        elif state == "start" and char == '"':
            state, opened = "quoted", line
        else:
            state = "start" if char in ",\r\n" else "cell"
        line += char == "\n"
    if state == "quoted":
        message = (
            f"a quote opened on this line is never closed, so every row after it is read into one cell; {_QUOTING}"
        )
        return Problem(shown, message, opened)
    return None


def read_faq_csv(text: str, shown: str) -> FaqFileResult:
    """Entries of a CSV FAQ file with the header id,question,alternates,answer,answer_en,tags."""
    result = FaqFileResult()
    if not text.strip():  # an empty file holds no entries, like an empty YAML file
        return result
    # Strict: a stray quote is an error here rather than a cell that swallows the rows after it.
    reader = csv.DictReader(io.StringIO(text), strict=True)
    try:
        header = reader.fieldnames or []
        missing = [f for f in REQUIRED_FIELDS if f not in header]
        if missing:
            result.problems.append(Problem(shown, f"CSV header lacks column(s): {', '.join(missing)}", 1))
            return result
        for row in reader:
            cells = [v for k, v in row.items() if k is not None and v is not None] + list(row.get(None) or [])
            line = reader.line_num - sum(cell.count("\n") for cell in cells)  # where the row starts
            if not any(cell.strip() for cell in cells):
                continue
            if line < reader.line_num and len(cells) != len(header):
                result.problems.append(_misshapen_row(shown, line, reader.line_num, len(cells), len(header)))
                continue
            parsed = _entry_from_mapping(dict(row), shown, line, "|")
            (result.problems if isinstance(parsed, Problem) else result.entries).append(parsed)  # type: ignore[arg-type]
    except csv.Error as error:
        result.problems.append(_stray_quote(text, shown) or Problem(shown, f"malformed CSV: {error}", reader.line_num))
    return result


def _misshapen_row(shown: str, line: int, last: int, cells: int, width: int) -> Problem:
    """A row whose quoted cell spans lines and whose cell count is not the header's: a stray quote, most likely."""
    return Problem(
        shown,
        f"this row runs on to line {last} inside quotes and has {cells} cells where the header has {width}, so a "
        f"quote opened here is likely closed in the wrong place; {_QUOTING}",
        line,
    )


def read_faq_file(path: Path, shown: str) -> FaqFileResult:
    """Entries and problems of one FAQ file, by its extension."""
    text, problem = read_text_file(path, shown)
    if problem is not None or text is None:
        return FaqFileResult(problems=[problem] if problem else [])
    if path.suffix.lower() == ".csv":
        return read_faq_csv(text, shown)
    return read_faq_yaml(text, shown)
