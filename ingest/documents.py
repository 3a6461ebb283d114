"""Reading product documents (Markdown, plain text, HTML, PDF) into titled, sectioned chunks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from ingest.faq_files import MAX_FILE_BYTES, read_text_file
from ingest.problems import Problem

DOCUMENT_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".html", ".htm", ".pdf"})
CHUNK_CHARS = 900
CHUNK_OVERLAP = 120

_HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3")]


@dataclass(frozen=True)
class DocumentChunk:
    """A piece of a product document that can answer a question on its own."""

    source: str  # file path relative to the knowledge-base root
    title: str
    section: str
    text: str
    index: int

    @property
    def ref(self) -> str:
        """How an answer names this chunk: `path#section`."""
        return f"{self.source}#{self.section}"


@dataclass
class DocumentResult:
    chunks: list[DocumentChunk] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _html_to_markdown(html: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "nav", "footer", "head"]):
        tag.decompose()
    lines: list[str] = []
    for element in soup.find_all(["h1", "h2", "h3", "h4", "p", "li", "td", "th", "pre", "dt", "dd"]):
        if element.find_parent(["li", "td", "th", "p"]) is not None and element.name in ("p", "li"):
            continue
        text = " ".join(element.get_text(" ", strip=True).split())
        if not text:
            continue
        level = {"h1": "# ", "h2": "## ", "h3": "### ", "h4": "### "}.get(element.name, "")
        lines.append(f"{level}{text}" if level else (f"- {text}" if element.name == "li" else text))
    return "\n\n".join(lines)


def _plain_text_to_markdown(text: str) -> str:
    """Treat short all-caps lines, and lines underlined with === or ---, as headings."""
    lines = text.splitlines()
    out: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        underline = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if re.fullmatch(r"[=\-]{3,}", stripped):
            continue
        if stripped and re.fullmatch(r"[=]{3,}", underline):
            out.append(f"# {stripped}")
        elif stripped and re.fullmatch(r"[-]{3,}", underline):
            out.append(f"## {stripped}")
        elif 3 <= len(stripped) <= 80 and stripped.isupper() and re.search(r"[A-Z]", stripped):
            out.append(f"## {stripped.title()}")
        else:
            out.append(line)
    return "\n".join(out)


def _pdf_pages(path: Path, shown: str) -> tuple[list[str], Problem | None]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return [], Problem(shown, f"PDF is too large (the limit is {MAX_FILE_BYTES} bytes)")
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            return [], Problem(shown, "PDF is encrypted; save it without a password")
        pages = [page.extract_text() or "" for page in reader.pages]
    # pypdf raises NotImplementedError for a stream filter it does not know (a damaged or exotic PDF).
    except (PyPdfError, OSError, ValueError, KeyError, TypeError, NotImplementedError) as error:
        return [], Problem(shown, f"unreadable PDF: {error}")
    if not any(p.strip() for p in pages):
        return [], Problem(shown, "PDF has no extractable text (a scan?); add a text version")
    return pages, None


def _split_markdown(markdown: str, shown: str, fallback_title: str) -> list[DocumentChunk]:
    sections = MarkdownHeaderTextSplitter(_HEADERS, strip_headers=True).split_text(markdown)
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_CHARS, chunk_overlap=CHUNK_OVERLAP)
    title = next((s.metadata["h1"] for s in sections if s.metadata.get("h1")), fallback_title)
    chunks: list[DocumentChunk] = []
    for section in sections:
        heading = section.metadata.get("h3") or section.metadata.get("h2") or section.metadata.get("h1") or title
        for piece in splitter.split_text(section.page_content):
            if piece.strip():
                chunks.append(DocumentChunk(shown, title, heading, piece.strip(), len(chunks)))
    return chunks


def read_document(path: Path, shown: str) -> DocumentResult:
    """The chunks of one product document, or the problem that stops it being read."""
    result = DocumentResult()
    fallback_title = path.stem.replace("-", " ").replace("_", " ").title()
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        pages, problem = _pdf_pages(path, shown)
        if problem:
            result.problems.append(problem)
            return result
        splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_CHARS, chunk_overlap=CHUNK_OVERLAP)
        first_line = next((line.strip() for line in pages[0].splitlines() if line.strip()), fallback_title)
        for number, page in enumerate(pages, start=1):
            for piece in splitter.split_text(page):
                if piece.strip():
                    chunk = DocumentChunk(shown, first_line[:120], f"page {number}", piece.strip(), len(result.chunks))
                    result.chunks.append(chunk)
        return result
    text, problem = read_text_file(path, shown)
    if problem or text is None:
        result.problems.extend([problem] if problem else [])
        return result
    if suffix in (".html", ".htm"):
        markdown = _html_to_markdown(text)
    elif suffix == ".txt":
        markdown = _plain_text_to_markdown(text)
    else:
        markdown = text
    result.chunks = _split_markdown(markdown, shown, fallback_title)
    return result
