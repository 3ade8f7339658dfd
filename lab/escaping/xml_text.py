"""Text an XML 1.0 parser accepts: JUnit reports and the SVG chart.

XML 1.0 forbids most control characters even as character references, so one ``\\x1b`` in a
program's stderr made the whole JUnit file unreadable. ElementTree escapes ``<>&"`` but leaves
those; `text` drops them (tab and newline stay) before ElementTree or `escape` sees the text.
"""
from __future__ import annotations

import functools
import re
from xml.sax.saxutils import escape as _sax_escape

from lab.escaping.text import readable

# What XML 1.0 allows besides tab, newline, CR: U+0020..U+D7FF, U+E000..U+FFFD, U+10000 up.
_NOT_XML = "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"


@functools.cache
def _not_xml() -> re.Pattern[str]:
    """Compiled when first needed (about 5 ms): a run that writes no XML does not pay for it."""
    return re.compile(_NOT_XML)


def text(value: object) -> str:
    """Text (or an attribute value) that XML 1.0 allows, for ElementTree to escape.

    >>> text("ok\\x00\\x1b[1mbold\\x1b[0m\\ufffe")
    'okbold'
    """
    return _not_xml().sub("", readable(str(value)))


def escape(value: object) -> str:
    """Escaped XML text, safe in an element and in a quoted attribute (either quote).

    >>> escape("a<b & 'c'\\x07")
    'a&lt;b &amp; &#x27;c&#x27;'
    """
    return _sax_escape(text(value), {"'": "&#x27;", '"': "&quot;"})
