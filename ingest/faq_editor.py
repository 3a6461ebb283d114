"""The web editor's write path into the FAQ files: add, edit and delete entries in place.

A save changes the text of one entry and nothing else: every other line of the file (comments, order,
quoting, blank lines) stays byte-identical, so the diff an editor's save leaves in kb/ is as small as a
hand edit. The entry itself is rendered with ruamel.yaml's round-trip mode from its old text, so the
comments inside it survive too. Each save is checked against the version the editor loaded (the second of
two concurrent saves is refused), validated with ingest's own rules, re-read to prove the file still holds
exactly what was meant, and then handed to `on_saved` (the live re-index of that one file); when that fails the old
file is put back and re-indexed.

Lines are counted where the parsers count them (YAML at \\n, \\r\\n and a lone \\r; CSV at \\n), never with
`str.splitlines()`, which also breaks at U+2028, \\x85, \\x0c and more. Line breaks of any such kind in a saved text
are written as plain newlines rather than escaped: the file stays readable (a YAML block, a quoted CSV cell; CSV has
no escapes), and answers carry the one line break every channel, editor and spreadsheet treats alike.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from bot.core.content_digest import content_digest
from ingest.faq_files import FAQ_FIELDS, FaqEntry, _entry_from_mapping, is_faq_file, read_faq_file
from ingest.problems import KnowledgeBaseError, Problem
from ingest.reindexed_write import ReindexError, write_and_reindex

NEW_ENTRIES_FILE = "faq/editor.yaml"
_CSV_SEPARATOR = "|"
_NEW_FILE_HEADER = (
    "# FAQ entries added in Tanya's web editor. Format: see kb/README.md.\n"
    "# Ids are permanent: never change or reuse an id.\n\n"
)
# (mapping, sequence, offset) indentation styles an entry may be written in; the first that reproduces the
# entry's current text is kept, so an edit does not re-indent the lines it leaves alone.
_INDENT_STYLES = ((2, 4, 2), (2, 2, 0), (4, 4, 2), (4, 6, 4))
# Lines as the parsers count them (never `str.splitlines()`, which also breaks at U+2028, \x85, \x0c and more):
# ruamel.yaml (YAML 1.2) at \n, \r\n and a lone \r; the csv reader's line numbers at \n.
_YAML_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_CSV_LINES = re.compile(r"[^\n]*\n|[^\n]+$")


class FaqEditError(Exception):
    """A change the editor refuses; the message is written for the person making it."""


class EntryConflictError(FaqEditError):
    """The entry changed on disk since the editor loaded it (another editor saved first)."""


class EntryInvalidError(FaqEditError):
    """The entry breaks the knowledge-base rules (missing field, bad id, duplicate id)."""


def entry_version(entry: FaqEntry) -> str:
    """A fingerprint of an entry's content: what an editor loaded, to detect a concurrent change on save."""
    return content_digest(entry.content())


@dataclass(frozen=True)
class EditableEntry:
    """An FAQ entry as the editor shows it: its content, the file it lives in and its version."""

    entry: FaqEntry
    file: str
    version: str


@dataclass(frozen=True)
class SavedChange:
    """What one save did; `version` is the entry's new version (None after a delete)."""

    action: str  # "added", "updated", "deleted" or "unchanged"
    entry_id: str
    file: str
    version: str | None
    reindexed: str = ""  # what the re-index did, for the editor's status line


def _yaml(style: tuple[int, int, int] = _INDENT_STYLES[0]) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # long answers stay on one line, as editors write them
    yaml.indent(mapping=style[0], sequence=style[1], offset=style[2])
    return yaml


def _dump(node: Any, style: tuple[int, int, int]) -> str:
    out = io.StringIO()
    _yaml(style).dump(node, out)
    return out.getvalue()


def _one_line_break(text: str) -> str:
    """`text` with every line break `str.splitlines()` knows (CR LF, U+2028, NEL, form feed...) as a plain newline."""
    return "\n".join(text.splitlines())


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


# --- YAML files ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _ItemSpan:
    """Where one list item sits in the file's lines: [start, end), the dash column and the content column."""

    start: int
    end: int
    dash: int
    content: int


def _item_spans(text: str, lines: list[str]) -> tuple[list[_ItemSpan], Any]:
    document = _yaml().load(text)
    items = document.get("faq") if isinstance(document, dict) else document
    if not isinstance(items, CommentedSeq):
        return [], document
    spans: list[_ItemSpan] = []
    for index in range(len(items)):
        start, content = items.lc.item(index)
        dash = lines[start].rfind("-", 0, content)
        end = start + 1
        while end < len(lines) and (not lines[end].strip() or _indent_of(lines[end]) >= content):
            end += 1
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1
        spans.append(_ItemSpan(start, end, dash, content))
    return spans, document


def _render_item(mapping: CommentedMap, span_dash: int, span_content: int, style: tuple[int, int, int]) -> list[str]:
    body = _YAML_LINES.findall(_dump(mapping, style))
    rendered = [(" " * span_content + line) if line.strip() else line for line in body]
    first = rendered[0]
    rendered[0] = " " * span_dash + "-" + " " * (span_content - span_dash - 1) + first[span_content:]
    return rendered


def _item_mapping(lines: list[str], span: _ItemSpan) -> tuple[CommentedMap, tuple[int, int, int]]:
    """The item's own text as a standalone mapping, and the indentation style it is written in."""
    own = lines[span.start : span.end]
    own = [" " * span.content + own[0][span.content :], *own[1:]]
    dedented = "".join(line[span.content :] if line.strip() else line for line in own)
    style = next((s for s in _INDENT_STYLES if _dump(_yaml(s).load(dedented), s) == dedented), _INDENT_STYLES[0])
    return _yaml(style).load(dedented), style


def _scalar(text: str) -> str:
    return LiteralScalarString(text + "\n") if "\n" in text else text


def _text_list(values: Sequence[str], flow: bool) -> CommentedSeq:
    seq = CommentedSeq(list(values))
    if flow:
        seq.fa.set_flow_style()
    else:
        seq.fa.set_block_style()
    return seq


def _fill_mapping(mapping: CommentedMap, entry: FaqEntry) -> None:
    """Set the entry's fields in place: unchanged values keep their quoting, new keys go in the usual order."""
    wanted: dict[str, Any] = {**entry.content(), "answer_en": entry.answer_en or ""}
    for key in FAQ_FIELDS:
        value = wanted[key]
        if value in ("", []):
            if key in mapping:
                del mapping[key]
            continue
        current = mapping.get(key)
        if isinstance(value, list):
            if current is not None and [str(v).strip() for v in current] == value:
                continue
            flow = current.fa.flow_style() if isinstance(current, CommentedSeq) else key == "tags"
            new_value: Any = _text_list(value, bool(flow))
        else:
            if current is not None and str(current).strip() == value:
                continue
            new_value = _scalar(value)
        if key in mapping:
            mapping[key] = new_value
        else:
            earlier = [k for k in FAQ_FIELDS[: FAQ_FIELDS.index(key)] if k in mapping]
            position = list(mapping.keys()).index(earlier[-1]) + 1 if earlier else 0
            mapping.insert(position, key, new_value)


def _new_mapping(entry: FaqEntry) -> CommentedMap:
    mapping = CommentedMap()
    _fill_mapping(mapping, entry)
    return mapping


def _yaml_replace(text: str, entry_id: str, entry: FaqEntry | None) -> str:
    """The file's text with entry `entry_id` replaced by `entry`, or removed when `entry` is None."""
    lines = _YAML_LINES.findall(text)
    spans, document = _item_spans(text, lines)
    items = document.get("faq") if isinstance(document, dict) else document
    assert isinstance(items, CommentedSeq)  # the entry was read from this file a moment ago
    index = next(
        i for i, item in enumerate(items) if isinstance(item, dict) and str(item.get("id", "")).strip() == entry_id
    )
    span = spans[index]
    if entry is not None:
        mapping, style = _item_mapping(lines, span)
        _fill_mapping(mapping, entry)
        return "".join(lines[: span.start] + _render_item(mapping, span.dash, span.content, style) + lines[span.end :])
    if len(items) == 1 and isinstance(document, CommentedMap):
        key_line = document.lc.key("faq")[0]  # the list becomes empty: keep the file valid as `faq: []`
        emptied = lines[:key_line] + [lines[key_line].rstrip("\r\n") + " []\n"] + lines[span.end :]
        return "".join(emptied)
    start = span.start
    while start > 0 and lines[start - 1].lstrip().startswith("#") and _indent_of(lines[start - 1]) >= span.dash:
        start -= 1  # the comment right above an entry is about that entry
    end = span.end
    if start > 0 and not lines[start - 1].strip():
        start -= 1
    elif end < len(lines) and not lines[end].strip():
        end += 1
    return "".join(lines[:start] + lines[end:])


def _yaml_append(text: str, entry: FaqEntry) -> str:
    """The file's text with `entry` added as the last item of its list."""
    lines = _YAML_LINES.findall(text)
    spans, document = _item_spans(text, lines) if text.strip() else ([], None)
    if spans:
        last = spans[-1]
        _, style = _item_mapping(lines, last)
        rendered = _render_item(_new_mapping(entry), last.dash, last.content, style)
        before = lines[: last.end]
        if before and not before[-1].endswith("\n"):
            before[-1] += "\n"
        return "".join([*before, "\n", *rendered, *lines[last.end :]])
    if document is None or (isinstance(document, dict) and not document.get("faq")):
        comments = "".join(line for line in lines if line.lstrip().startswith("#")).rstrip("\n")
        header = comments + "\n\n" if comments else _NEW_FILE_HEADER
        if isinstance(document, dict) and len(document) > 1:
            raise FaqEditError("this file holds other keys besides an empty 'faq:' list; add the entry in another file")
        return header + "faq:\n" + "".join(_render_item(_new_mapping(entry), 2, 4, _INDENT_STYLES[0]))
    if isinstance(document, list) and not document:
        header = "".join(line for line in lines if line.lstrip().startswith("#")).rstrip("\n")
        return (header + "\n" if header else "") + "".join(_render_item(_new_mapping(entry), 0, 2, (2, 4, 2)))
    raise FaqEditError("this file is not a list of FAQ entries; add the entry in another file")


# --- CSV files ----------------------------------------------------------------------------------------
def _csv_rows(text: str) -> tuple[list[str], list[tuple[int, int, dict[str, str]]]]:
    """The header and each row with the [first, last) line numbers it spans (quoted cells may span lines)."""
    reader = csv.DictReader(io.StringIO(text))
    header = list(reader.fieldnames or [])
    rows: list[tuple[int, int, dict[str, str]]] = []
    previous = reader.line_num
    for row in reader:
        rows.append((previous, reader.line_num, dict(row)))
        previous = reader.line_num
    return header, rows


def _csv_line(header: list[str], entry: FaqEntry, newline: str) -> str:
    values = {
        name: _CSV_SEPARATOR.join(value) if isinstance(value, list) else value or ""
        for name, value in entry.content().items()
    }
    out = io.StringIO()
    csv.writer(out, lineterminator=newline).writerow([values.get(column, "") for column in header])
    return out.getvalue()


def _csv_edit(text: str, entry_id: str | None, entry: FaqEntry | None) -> str:
    """Replace (entry_id and entry), remove (entry None) or append (entry_id None) one row; other rows keep their bytes."""
    newline = "\r\n" if "\r\n" in text else "\n"
    header, rows = _csv_rows(text)
    if entry is not None and any(_CSV_SEPARATOR in t for t in (*entry.alternates, *entry.tags)):
        raise EntryInvalidError(f"in a CSV file, alternates and tags cannot contain '{_CSV_SEPARATOR}'")
    lines = _CSV_LINES.findall(text)
    if entry_id is None:
        assert entry is not None
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += newline
        return "".join(lines) + _csv_line(header, entry, newline)
    first, last = next((a, b) for a, b, row in rows if (row.get("id") or "").strip() == entry_id)
    replacement = [_csv_line(header, entry, newline)] if entry is not None else []
    return "".join(lines[:first] + replacement + lines[last:])


# --- the editor ---------------------------------------------------------------------------------------
class FaqEditor:
    """Reads and changes the FAQ entries under one knowledge-base root; one instance per process.

    Saves are serialised by a lock, so the version check and the write happen together. `on_saved(path)`
    runs after each write, still under the lock (the live re-index); if it fails the file is restored.
    """

    def __init__(
        self,
        kb_root: Path,
        on_saved: Callable[[Path], object] | None = None,
        new_entries_file: str = NEW_ENTRIES_FILE,
    ) -> None:
        self.kb_root = kb_root
        self.on_saved = on_saved
        self.new_entries_file = new_entries_file
        self._lock = threading.Lock()

    # --- reading -------------------------------------------------------------------------------------
    def faq_files(self) -> list[str]:
        """FAQ files an entry can be saved to, relative to the root (the new-entries file always offered)."""
        found = {
            p.relative_to(self.kb_root).as_posix()
            for p in self.kb_root.rglob("*")
            if p.is_file()
            and is_faq_file(p)
            and not any(part.startswith(".") for part in p.relative_to(self.kb_root).parts)
        }
        return sorted(found | {self.new_entries_file})

    def entries(self) -> list[EditableEntry]:
        """Every FAQ entry, in file order; files with problems are skipped (ingest reports them)."""
        found: list[EditableEntry] = []
        for name in self.faq_files():
            path = self.kb_root / name
            if path.exists():
                result = read_faq_file(path, name)
                found.extend(EditableEntry(e, name, entry_version(e)) for e in result.entries)
        return found

    def get(self, entry_id: str) -> EditableEntry:
        """The entry with this id as it is on disk now."""
        for item in self.entries():
            if item.entry.id == entry_id:
                return item
        raise FaqEditError(f"there is no FAQ entry '{entry_id}' (it may have been deleted)")

    # --- writing -------------------------------------------------------------------------------------
    def save(self, fields: Mapping[str, Any], *, version: str | None, file: str | None = None) -> SavedChange:
        """Add a new entry (`version` None) or update the one loaded at `version`; refuse stale or invalid saves."""
        with self._lock:
            entry = self._validated(fields, file)
            current = {item.entry.id: item for item in self.entries()}
            existing = current.get(entry.id)
            if version is None:
                if existing is not None:
                    raise EntryConflictError(
                        f"an entry with id '{entry.id}' already exists (in {existing.file}); choose another id, "
                        "or open that entry to edit it"
                    )
                target = file or self.new_entries_file
                self._check_target(target)
                done = self._write(target, lambda text: self._append(target, text, entry), entry.id, entry)
                return SavedChange("added", entry.id, target, entry_version(entry), done)
            if existing is None:
                raise EntryConflictError(
                    f"entry '{entry.id}' was deleted by someone else after you opened it; nothing was saved. "
                    "Save it again as a new entry if it is still needed."
                )
            if existing.version != version:
                raise EntryConflictError(
                    f"entry '{entry.id}' was changed by someone else after you opened it; your edit was not saved. "
                    "Reload the entry, reapply your change and save again."
                )
            entry = self._located(entry, existing.file)
            if entry_version(entry) == version:
                return SavedChange("unchanged", entry.id, existing.file, version)
            done = self._write(
                existing.file, lambda text: self._replace(existing.file, text, entry.id, entry), entry.id, entry
            )
            return SavedChange("updated", entry.id, existing.file, entry_version(entry), done)

    def delete(self, entry_id: str, *, version: str) -> SavedChange:
        """Remove the entry loaded at `version`; refused when it changed since."""
        with self._lock:
            existing = next((item for item in self.entries() if item.entry.id == entry_id), None)
            if existing is None:
                raise EntryConflictError(f"entry '{entry_id}' no longer exists; it was already deleted")
            if existing.version != version:
                raise EntryConflictError(
                    f"entry '{entry_id}' was changed by someone else after you opened it; it was not deleted. "
                    "Reload it and decide again."
                )
            done = self._write(
                existing.file, lambda text: self._replace(existing.file, text, entry_id, None), entry_id, None
            )
            return SavedChange("deleted", entry_id, existing.file, None, done)

    def add_alternates(self, entry_id: str, texts: Sequence[str]) -> SavedChange:
        """Add ways of asking to an entry (skipping ones it already has); additive, so no version is needed."""
        with self._lock:
            existing = next((item for item in self.entries() if item.entry.id == entry_id), None)
            if existing is None:
                raise FaqEditError(f"there is no FAQ entry '{entry_id}' (it may have been deleted)")
            known = {t.casefold() for t in (existing.entry.question, *existing.entry.alternates)}
            added: list[str] = []
            for text in (" ".join(t.split()) for t in texts):
                if text and text.casefold() not in known:
                    known.add(text.casefold())
                    added.append(text)
            if not added:
                return SavedChange("unchanged", entry_id, existing.file, existing.version)
            fields = {**existing.entry.content(), "alternates": [*existing.entry.alternates, *added]}
            entry = self._located(self._validated(fields, existing.file), existing.file)
            done = self._write(
                existing.file, lambda text: self._replace(existing.file, text, entry_id, entry), entry_id, entry
            )
            return SavedChange("updated", entry_id, existing.file, entry_version(entry), done)

    # --- internals -----------------------------------------------------------------------------------
    def _validated(self, fields: Mapping[str, Any], file: str | None) -> FaqEntry:
        raw = {key: fields.get(key) for key in FAQ_FIELDS}
        for key in ("question", "answer", "answer_en"):
            text = raw[key]
            if isinstance(text, str):  # a pasted U+2028 is written as the newline it means (see the module doc)
                raw[key] = _one_line_break(text)
        for key in ("alternates", "tags"):
            value = raw.get(key)
            if isinstance(value, (list, tuple)):
                raw[key] = [" ".join(str(v).split()) for v in value if str(v).strip()]
        parsed = _entry_from_mapping(raw, file or self.new_entries_file, None, None)
        if isinstance(parsed, Problem):
            raise EntryInvalidError(parsed.message)
        return parsed

    def _located(self, entry: FaqEntry, file: str) -> FaqEntry:
        return FaqEntry(
            entry.id, entry.question, entry.answer, entry.alternates, entry.answer_en, entry.tags, source=file
        )

    def _check_target(self, target: str) -> None:
        path = (self.kb_root / target).resolve()
        if not path.is_relative_to(self.kb_root.resolve()) or not is_faq_file(path):
            raise FaqEditError(f"'{target}' is not an FAQ file of the knowledge base")

    def _append(self, file: str, text: str, entry: FaqEntry) -> str:
        if file.lower().endswith(".csv"):
            if not text.strip():
                raise FaqEditError("this CSV file has no header; add the entry in a YAML file")
            return _csv_edit(text, None, entry)
        return _yaml_append(text, entry)

    def _replace(self, file: str, text: str, entry_id: str, entry: FaqEntry | None) -> str:
        if file.lower().endswith(".csv"):
            return _csv_edit(text, entry_id, entry)
        return _yaml_replace(text, entry_id, entry)

    def _write(self, file: str, change: Callable[[str], str], entry_id: str, entry: FaqEntry | None) -> str:
        """Apply `change` to the file's text, prove the result holds what was meant, write it, re-index it (the
        old file is put back and re-indexed when that fails)."""
        path = self.kb_root / file
        old_text = path.read_text(encoding="utf-8-sig") if path.exists() else ""
        new_text = change(old_text)
        self._verify(path, file, old_text, new_text, entry_id, entry)
        try:
            result = write_and_reindex(path, new_text.encode("utf-8"), self.on_saved, file)
        except OSError as error:  # disk full, read-only, permissions: the write is atomic, so the file is as it was
            raise FaqEditError(f"{file} could not be written ({error.strerror or error}); nothing was saved") from error
        except ReindexError as error:
            if isinstance(error.cause, KnowledgeBaseError) and error.restore_error is None:
                raise EntryInvalidError("; ".join(p.message for p in error.cause.problems)) from error
            raise FaqEditError(f"{error}; nothing was saved") from error
        return str(result) if result is not None else ""

    @staticmethod
    def _verify(path: Path, file: str, old_text: str, new_text: str, entry_id: str, entry: FaqEntry | None) -> None:
        """The new text must parse cleanly and differ from the old only in the one entry."""

        def parsed(text: str) -> dict[str, dict[str, Any]]:
            with tempfile.TemporaryDirectory() as folder:
                probe = Path(folder) / path.name
                probe.write_text(text, encoding="utf-8")
                result = read_faq_file(probe, file)
            if result.problems:
                raise FaqEditError(f"the change would break {file}: {result.problems[0].message}; nothing was saved")
            return {e.id: e.content() for e in result.entries}

        before = parsed(old_text) if old_text.strip() else {}
        after = parsed(new_text)
        expected = {k: v for k, v in before.items() if k != entry_id}
        if entry is not None:
            expected[entry_id] = entry.content()
        if after != expected:
            raise FaqEditError(f"could not write the change to {file} safely; nothing was saved")
