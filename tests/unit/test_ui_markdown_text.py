"""Customer text in staff pages' Markdown: shown as written, never as a link, an image, HTML or formatting."""

from __future__ import annotations

from support.markdown import HOSTILE, as_read, assert_inert

from ui.markdown_text import plain_markdown


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
