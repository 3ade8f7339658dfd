"""CSV cells a spreadsheet never runs: a cell starting with = + - @ (or tab, CR) is a formula there.

A student folder named ``=HYPERLINK("http://evil","x")`` must stay text in the teacher's
gradebook.csv; OWASP's rule: prefix such a cell with a single quote. Control characters go too.
"""
from __future__ import annotations

from lab.escaping.text import decoded, readable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: str) -> str:
    """A CSV cell's text, with a ' before what a spreadsheet would read as a formula.

    Control characters go (lab.escaping.text.readable): a lone CR, which the csv module would
    leave unquoted with our "\\n" line ends, becomes a newline inside a quoted cell.

    >>> cell("=1+1"), cell("-2"), cell("ada"), cell("\\tx"), cell("\\r=1")
    ("'=1+1", "'-2", 'ada', "'\\tx", "'\\n=1")
    """
    value = decoded(value)
    return f"'{readable(value)}" if value.startswith(FORMULA_STARTS) else readable(value)
