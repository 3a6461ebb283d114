"""Untrusted text (a customer's name, message or question) shown as written inside Gradio Markdown.

Gradio renders Markdown with marked (GitHub-flavoured, so bare URLs and e-mail addresses become links) and lets
sanitised HTML through, so a customer's `[x](https://…)`, `<https://…>`, `![x](…)` or `<img src=…>` would show
staff a live link, a remote image or a tag. CommonMark shows a backslash-escaped punctuation character as the
character itself, so escaping every character that can start Markdown or HTML keeps the text readable and inert.
"""

from __future__ import annotations

import re

# Inline syntax, HTML and entities; the ":" of "://" and the "." of "www." (bare URLs) and "@" (e-mail addresses)
# so they are not auto-linked; "$" so "$$" does not start LaTeX.
_INLINE = re.compile(r"[\\`*_{}\[\]<>#+!|~$&@]|:(?=//)|(?<=[wW]{3})\.")
# Block syntax a line can start with: "- " and "1. " lists, "===" and "---" headings and rules.
_LINE_START = re.compile(r"^(\d{0,9})([-=.)])", re.MULTILINE)
# Four spaces would start a code block, where escapes show as backslashes.
_INDENT = re.compile(r"^[ \t]+", re.MULTILINE)
# A line break inside a paragraph: a backslash before it keeps it (gr.Markdown would join the lines).
_LINE_BREAK = re.compile(r"(?<=[^\n])\n(?=[^\n])")


def plain_markdown(text: str) -> str:
    """`text` as Markdown that renders exactly as written: no link, image, HTML, list, heading or emphasis
    (USSD codes such as *123*1# stay as typed), its lines kept."""
    escaped = _INLINE.sub(r"\\\g<0>", _INDENT.sub("", text.replace("\r\n", "\n")))
    return _LINE_BREAK.sub("\\\n", _LINE_START.sub(r"\1\\\2", escaped))
