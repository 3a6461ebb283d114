"""Loading and validating a whole knowledge base (FAQ files, documents, glossary) before anything is indexed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bot.core.glossary import Glossary
from ingest.documents import DOCUMENT_SUFFIXES, DocumentChunk, read_document
from ingest.faq_files import GLOSSARY_NAMES, FaqEntry, is_faq_file, read_faq_file, read_text_file
from ingest.problems import KnowledgeBaseError, Problem

SKIPPED_NAMES = frozenset({"readme.md", "readme.txt"})


@dataclass
class KnowledgeBase:
    """What a set of knowledge-base files holds, and which sources they cover (for sync)."""

    entries: list[FaqEntry] = field(default_factory=list)
    chunks: list[DocumentChunk] = field(default_factory=list)
    glossary: Glossary | None = None
    scope_files: set[str] = field(default_factory=set)
    scope_folders: set[str] = field(default_factory=set)

    def covers(self, source: str) -> bool:
        """True when `source` (a relative file path) lies in what was read, so its absence means deletion."""
        return source in self.scope_files or any(
            folder == "" or source.startswith(folder + "/") for folder in self.scope_folders
        )


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def read_glossary(path: Path, shown: str) -> tuple[Glossary | None, list[Problem]]:
    """The glossary file's synonyms, checked: a mapping of term -> list of variants, each variant in one group."""
    text, problem = read_text_file(path, shown)
    if problem or text is None:
        return None, [problem] if problem else []
    try:
        document = YAML(typ="safe").load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        return None, [
            Problem(shown, f"malformed YAML: {getattr(error, 'problem', error)}", mark.line + 1 if mark else None)
        ]
    raw = (document or {}).get("synonyms", {}) if isinstance(document, dict) or document is None else None
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        return None, [Problem(shown, "expected 'synonyms:' mapping each term to a list of variants")]
    problems: list[Problem] = []
    owner: dict[str, str] = {}
    for canonical, variants in raw.items():
        for variant in [canonical, *variants]:
            key = str(variant).strip().lower()
            if key in owner and owner[key] != str(canonical):
                problems.append(Problem(shown, f"'{key}' is in two groups: '{owner[key]}' and '{canonical}'"))
            owner[key] = str(canonical)
    return (None if problems else Glossary.from_mapping(raw)), problems


def _files_under(folder: Path) -> list[Path]:
    # Hidden names are judged below `folder` only: a kb/ inside a hidden folder (~/.work/kb) is still read.
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def load_knowledge_base(paths: list[Path], root: Path) -> KnowledgeBase:
    """Read and validate every file under `paths`; raise KnowledgeBaseError listing all problems."""
    kb = KnowledgeBase()
    problems: list[Problem] = []
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            kb.scope_folders.add("" if path.resolve() == root.resolve() else _relative(path, root))
            files.extend(_files_under(path))
        elif path.is_file():
            files.append(path)
            kb.scope_files.add(_relative(path, root))
        else:
            problems.append(Problem(str(path), "no such file or folder"))
    for path in files:
        shown = _relative(path, root)
        name, suffix = path.name.lower(), path.suffix.lower()
        if name in GLOSSARY_NAMES:
            kb.glossary, found = read_glossary(path, shown)
            problems.extend(found)
        elif is_faq_file(path):
            result = read_faq_file(path, shown)
            kb.entries.extend(result.entries)
            problems.extend(result.problems)
        elif suffix in DOCUMENT_SUFFIXES and name not in SKIPPED_NAMES:
            document = read_document(path, shown)
            kb.chunks.extend(document.chunks)
            problems.extend(document.problems)
    first_seen: dict[str, FaqEntry] = {}
    for entry in kb.entries:
        if entry.id in first_seen:
            other = first_seen[entry.id]
            problems.append(
                Problem(entry.source, f"duplicate id '{entry.id}' (also at {other.source}:{other.line})", entry.line)
            )
        else:
            first_seen[entry.id] = entry
    if problems:
        raise KnowledgeBaseError(problems)
    return kb
