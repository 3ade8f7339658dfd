"""Text for the teacher's terminal (rich): no markup read from it, no escape sequence sent to it.

A student's output in a check's detail could hold ``\\x1b]0;…`` (retitle the window), ``\\x1b[2J``
(clear the screen) or ``[red]`` (rich markup); printed here it is only text.
"""
from __future__ import annotations

from rich.markup import escape

from lab.escaping.text import readable


def text(value: object) -> str:
    """Readable text with rich's markup escaped.

    >>> text("[bold]x\\x1b[2J\\x1b]0;owned\\x07")
    '\\\\[bold]x'
    """
    return escape(readable(str(value)))
