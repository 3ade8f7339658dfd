"""Readable text from a student's bytes: the base every output format builds on.

A folder name from a zip made on Windows reaches Python as a str with lone surrogates
(``os.listdir`` decodes with surrogateescape); a program may print NUL, ESC sequences or invalid
UTF-8. Written as they are, such strings make ``write_text`` raise (after a whole class ran) or
drive the teacher's terminal. Here they become U+FFFD and nothing, so one student's bytes never
stop the class's output.
"""
from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
_OTHER_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")
# C0 controls but tab and newline, DEL, and the C1 controls (a terminal obeys 0x9b as ESC [).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# An ANSI escape sequence (CSI ... final byte, OSC ... BEL/ST, or ESC + one char such as ESC c), dropped whole
# so that no "[31m" remnant is left behind in the text.
_ESCAPE_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-~])")


def decoded(data: bytes | str) -> str:
    """Bytes (or a str that may hold surrogates) as valid Unicode, invalid parts as U+FFFD.

    >>> decoded(b"caf\\xe9"), decoded("caf\\udce9"), decoded("caf\\u00e9")
    ('caf\ufffd', 'caf\ufffd', 'café')
    """
    if isinstance(data, str):
        # A byte that was not UTF-8 came in as U+DC80..U+DCFF (surrogateescape): back to that byte,
        # replaced below; any other lone surrogate cannot be encoded at all: replaced here.
        data = _OTHER_SURROGATE.sub(REPLACEMENT, data).encode("utf-8", "surrogateescape")
    return data.decode("utf-8", "replace")


def readable(text: bytes | str) -> str:
    """Valid Unicode without control characters: tab and newline kept, CR as a line end.

    >>> readable("ok\\x1b[31m red\\x1b[0m\\r\\nnext\\x00\\x07 \\udcff")
    'ok red\\nnext \ufffd'
    """
    text = decoded(text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", _ESCAPE_SEQUENCE.sub("", text))


def one_line(text: bytes | str) -> str:
    """`readable` on one line (newlines and tabs as spaces): a name, a table cell.

    >>> one_line("a\\nb\\tc\\x0c")
    'a b c'
    """
    return readable(text).replace("\n", " ").replace("\t", " ")


def clean_tree(value: Any) -> Any:
    """A JSON-able value with every string (keys too) `decoded`: json.dumps and UTF-8 files never raise.

    Control characters stay: JSON escapes them, and a JSON reader gets exactly what was printed.

    >>> clean_tree({"a\\udcff": ["x\\udc80", 1, None]})
    {'a\ufffd': ['x\ufffd', 1, None]}
    """
    if isinstance(value, str):
        return decoded(value)
    if isinstance(value, dict):
        return {clean_tree(k): clean_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_tree(v) for v in value]
    return value
