"""Customer text in staff pages' Markdown: shown as written, never as a link, an image, HTML or formatting."""

from __future__ import annotations

import re

from ui.markdown_text import plain_markdown

HOSTILE = (
    "[click](https://evil.example) <https://evil.example> <img src=https://evil.example/x.png> "
    "![x](https://evil.example/p.png) <script>alert(1)</script> www.evil.example a@evil.example tekan *123#"
)
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def live_syntax(markdown: str) -> str:
    """What Markdown would act on: `markdown` without its backslash-escaped characters."""
    return _ESCAPED.sub("", markdown)


def as_read(markdown: str) -> str:
    """What a reader sees of escaped text: each escaped character as itself."""
    return _ESCAPED.sub(r"\1", markdown)


def assert_inert(markdown: str) -> None:
    """No link, autolink, bare URL, e-mail link, image or tag left live in `markdown`."""
    live = live_syntax(markdown)
    for syntax in ("](", "[", "<", "://", "www.", "@", "$$"):
        assert syntax not in live, f"{syntax!r} is live in {markdown!r}"


def test_links_images_html_and_bare_urls_are_shown_as_written() -> None:
    shown = plain_markdown(HOSTILE)
    assert_inert(shown)
    assert as_read(shown) == HOSTILE
    assert "\\*123\\#" in shown  # a USSD code is not italics or a heading


def test_lines_are_kept_but_start_no_list_heading_rule_or_code_block() -> None:
    text = "1. satu\n- dua\njudul\n===\n---\n    kode [x](https://e.example)\n\n&lt;img&gt; $$x$$"
    shown = plain_markdown(text)
    assert_inert(shown)
    assert shown.splitlines()[:5] == ["1\\. satu\\", "\\- dua\\", "judul\\", "\\===\\", "\\---\\"]
    assert "\n\\&lt;img\\&gt; \\$\\$x\\$\\$" in shown  # paragraphs kept; entities and LaTeX stay text
    assert as_read(shown) == text.replace("    kode", "kode")
