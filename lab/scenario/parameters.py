"""Scenario parameters: typed values from the CLI, checked against each scenario's bounds."""
from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any

from lab.impairment import units
from lab.errors import BadInput, ParameterError
from lab.scenario.model import Parameter

# Impairment-valued kinds may be left unset: "", "none" or "off" means the field is not applied.
UNSETTABLE_KINDS = ("percent", "duration", "rate")
UNSET = "none"


def coerce(parameter: Parameter, raw: Any) -> Any:
    """The typed value of one parameter, or a ParameterError that says what is allowed."""
    name, kind = parameter.name, parameter.kind
    if kind in UNSETTABLE_KINDS and str(raw).strip().lower() in ("", "none", "off"):
        return UNSET  # an impairment field left unset (e.g. no rate limit)
    try:
        if kind == "int":
            value: Any = int(str(raw).replace("_", ""))
        elif kind == "float":
            value = float(raw)
        elif kind == "percent":
            units.parse_percent(str(raw))
            value = str(raw) if str(raw).endswith("%") else f"{raw}%"
        elif kind == "duration":
            units.parse_duration_ms(str(raw))
            value = str(raw)
        elif kind == "rate":
            units.parse_rate_bit(str(raw))
            value = str(raw)
        else:
            value = str(raw)
    except BadInput as error:
        raise ParameterError(f"--{name.replace('_', '-')} {raw!r}: {error}") from None
    except ValueError:
        raise ParameterError(f"--{name.replace('_', '-')} {raw!r}: expected {kind}") from None
    if parameter.choices and str(value) not in parameter.choices:
        raise ParameterError(f"--{name.replace('_', '-')} {raw!r}: allowed {', '.join(parameter.choices)}")
    number = _numeric(kind, value)
    if number is not None and not math.isfinite(number):
        raise ParameterError(f"--{name.replace('_', '-')} {raw!r}: must be a finite number")
    if number is not None:
        if parameter.minimum is not None and number < parameter.minimum:
            raise ParameterError(f"--{name.replace('_', '-')} {raw}: must be at least "
                                 f"{parameter.minimum:g} (allowed {_bounds(parameter)})")
        if parameter.maximum is not None and number > parameter.maximum:
            raise ParameterError(f"--{name.replace('_', '-')} {raw}: must be at most "
                                 f"{parameter.maximum:g} (allowed {_bounds(parameter)})")
    return value


def _numeric(kind: str, value: Any) -> float | None:
    if value == UNSET:
        return None
    if kind in ("int", "float"):
        return float(value)
    if kind == "percent":
        return units.parse_percent(value)
    if kind == "duration":
        return units.parse_duration_ms(value)
    return None


def _bounds(parameter: Parameter) -> str:
    low = "-inf" if parameter.minimum is None else f"{parameter.minimum:g}"
    high = "inf" if parameter.maximum is None else f"{parameter.maximum:g}"
    return f"{low}..{high}"


def resolve(declared: Mapping[str, Parameter], overrides: Mapping[str, Any], scenario: str
            ) -> dict[str, Any]:
    """Effective parameters: defaults, then overrides; unknown names are an error."""
    for name in overrides:
        if name not in declared:
            known = ", ".join(f"--{n.replace('_', '-')}" for n in declared) or "none"
            close = difflib.get_close_matches(name, list(declared), n=1)
            hint = f" (did you mean --{close[0].replace('_', '-')}?)" if close else ""
            raise ParameterError(f"scenario {scenario} has no parameter --{name.replace('_', '-')}"
                                 f"{hint}; its parameters: {known}")
    return {name: coerce(p, overrides.get(name, p.default)) for name, p in declared.items()}


def substitute(template: str, values: Mapping[str, Any]) -> str:
    """Fill ``{name}`` placeholders of a scenario string from the effective parameters."""
    try:
        return template.format_map(dict(values))
    except KeyError as missing:
        raise ParameterError(f"scenario refers to unknown parameter {missing}") from None


def parse_seed(raw: Any) -> int | None:
    """``--seed``: a non-negative integer, or None when not given."""
    if raw is None or raw == "":
        return None
    try:
        seed = int(str(raw))
    except ValueError:
        raise ParameterError(f"--seed {raw!r}: expected a non-negative integer") from None
    if seed < 0:
        raise ParameterError(f"--seed {raw}: must be a non-negative integer")
    return seed
