"""HTML text and attribute values for the report pages: escaped, control characters dropped.

``html.escape`` alone keeps NUL and ESC (not allowed in HTML) and keeps lone surrogates (the
page's UTF-8 write raises); this is ``html.escape`` on lab.escaping.text.readable.
"""
from __future__ import annotations

import html

from lab.escaping.text import readable


def text(value: object, quote: bool = True) -> str:
    """Escaped text for an element or a quoted attribute value.

    >>> text('<img src=x onerror="alert(1)">\\x1b[2J')
    '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
    """
    return html.escape(readable(str(value)), quote=quote)


escape = text   # the name html_report and the SVG chart call it by
