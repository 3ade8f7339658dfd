"""CSV cells a spreadsheet never runs: a cell starting with = + - @ (or tab, CR) is a formula there.

A student folder named ``=HYPERLINK("http://evil","x")`` must stay text in the teacher's
gradebook.csv; OWASP's rule: prefix such a cell with a single quote. Control characters go too.
"""
from __future__ import annotations

from lab.escaping.text import decoded

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: str) -> str:
    """A CSV cell's text, with a ' before what a spreadsheet would read as a formula.

    >>> cell("=1+1"), cell("-2"), cell("ada"), cell("\\tx")
    ("'=1+1", "'-2", 'ada', "'\\tx")
    """
    value = decoded(value)
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value
