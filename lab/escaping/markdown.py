"""Markdown (GitHub-flavoured, as in a job summary or a rendered .md) that shows a student's text as text.

A student's folder name or output in a report must never become a link, an image, raw HTML, an
autolink (``http://…``, ``www.…``, ``a@b.c``), emphasis or an extra table row (a fake
``| ✅ PASSED |``). CommonMark lets any ASCII punctuation be backslash-escaped; `text` escapes
every one that could start a construct, so none can start. Code spans and fences are delimited by a run of
backticks longer than any inside. Control characters go first (lab.escaping.text).
"""
from __future__ import annotations

import re

from lab.escaping.text import one_line, readable

# Every ASCII punctuation character that can start or end a construct (GFM and its extensions:
# strikethrough ~, math $, footnotes ^, autolinks : . @); , ; ? % / ' " start none once these are escaped.
_PUNCTUATION = re.compile(r"([!#$&()*+\-.:<=>@\[\\\]^_`{|}~])")


def text(value: str) -> str:
    """Inline text shown literally, on one line (also safe inside a GFM table cell).

    >>> print(text("![x](http://evil) <b>|, 'a'; 50% www.x.io"))
    \\!\\[x\\]\\(http\\://evil\\) \\<b\\>\\|, 'a'; 50% www\\.x\\.io
    """
    return _PUNCTUATION.sub(r"\\\1", one_line(value))


def cell(value: str) -> str:
    """A table cell: `text` (which escapes ``|`` too), or a dash for an empty cell."""
    return text(value) or "–"


def code(value: str, in_table: bool = False) -> str:
    """An inline code span of the text, whatever backticks it holds.

    >>> code("a`b"), code("`x`"), code("a|b", in_table=True)
    ('``a`b``', '`` `x` ``', '`a\\\\|b`')
    """
    content = one_line(value)
    if not content:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    fence = "`" * (longest + 1)
    if content.startswith("`") or content.endswith("`") or (content.startswith(" ") and content.endswith(" ")):
        content = f" {content} "
    if in_table:
        # GFM splits a table row on "|" before it sees code spans; "\|" is its escape there too.
        content = content.replace("|", "\\|")
    return f"{fence}{content}{fence}"


def fenced(value: str, info: str = "") -> list[str]:
    """A fenced code block of the text, as lines: its fence longer than any backtick run inside.

    >>> fenced("a\\n```\\nb")
    ['````', 'a', '```', 'b', '````']
    """
    content = readable(value)
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *content.split("\n"), fence]


def html_text(value: str) -> str:
    """Text inside an HTML element of a Markdown file (``<summary>…</summary>``), on one line.

    >>> html_text("<img src=x> & co")
    '&lt;img src=x&gt; &amp; co'
    """
    from lab.escaping.html_text import text as html_escape

    return html_escape(one_line(value))
