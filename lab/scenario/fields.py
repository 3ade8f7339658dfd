"""The small validators every section of a scenario file goes through.

Each raises ScenarioFileError naming the file and field, what was wrong and what is allowed (with
the closest allowed name for a typo), because teachers write these files by hand.
"""
from __future__ import annotations

import difflib
import string
from collections.abc import Collection, Iterable
from typing import Any

from lab.errors import ScenarioFileError


def require(table: dict[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise ScenarioFileError(f"{where}: missing '{key}'")
    return table[key]


def only(table: dict[str, Any], allowed: Collection[str], where: str) -> None:
    unknown = set(table) - set(allowed)
    if unknown:
        hints = [f"'{u}' (did you mean '{close[0]}'?)" if (close := difflib.get_close_matches(u, list(allowed), n=1))
                 else f"'{u}'" for u in sorted(unknown)]
        raise ScenarioFileError(f"{where}: unknown field(s) {', '.join(hints)}; "
                                f"allowed: {', '.join(sorted(allowed))}")


def one_of(value: str, allowed: Iterable[str], where: str) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        close = difflib.get_close_matches(value, list(allowed), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ScenarioFileError(f"{where}: '{value}' is not one of {', '.join(allowed) or '(none declared)'}{hint}")
    return value


def a_table(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise ScenarioFileError(f"{where}: a table (name = value, ...), got {value!r}")


def a_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ScenarioFileError(f"{where}: a list ([[...]] tables or [a, b]), got {value!r}")
    return value


def unique(names: list[str], where: str, what: str) -> None:
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ScenarioFileError(f"{where}: two {what}s share the name {', '.join(twice)}")


def names(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


def placeholders(text: str, known: Iterable[str], where: str) -> None:
    """Every ``{name}`` in a scenario string names a declared parameter (or host/index)."""
    known = tuple(known)
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as error:
        raise ScenarioFileError(f"{where}: {text!r}: {error} (write {{{{ and }}}} for a literal brace)") from None
    for field_name in fields:
        one_of(field_name, known, f"{where}: placeholder {{{field_name}}}")


def impair_tables(value: Any, where: str) -> tuple[dict[str, str], ...]:
    """``impair`` is one table (one interface) or a list of tables (one per interface)."""
    tables = [value] if isinstance(value, dict) else list(value)
    if not all(isinstance(t, dict) for t in tables):
        raise ScenarioFileError(f"{where}.impair: a table of impairment fields, or a list of them")
    interfaces = [str(t.get("interface", "eth0")) for t in tables]
    if len(set(interfaces)) != len(interfaces):
        raise ScenarioFileError(f"{where}.impair: interface listed twice ({', '.join(interfaces)}); "
                                "use direction = \"both\" or one table per interface")
    return tuple({k: str(v) for k, v in t.items()} for t in tables)
