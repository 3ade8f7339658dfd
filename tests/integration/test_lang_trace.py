"""`invoke scenario api-trace --lang c|java` on the real engine: the textbook's C and Java programs,
built and run under the supervisor in the api-trace hosts, their socket calls beside Python's."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from lab import app
from lab.errors import ParameterError

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests/contracts/result.schema.json").read_text())

pytestmark = pytest.mark.integration


def _columns(tmp_path: Path, lang: str) -> dict[str, list[str]]:
    """Run api-trace with --lang; column title → the names of the calls it shows."""
    assert app.run("api-trace", {}, report_dir=str(tmp_path), lang=lang) == 0
    document = json.loads((tmp_path / "api-trace.json").read_text())
    jsonschema.validate(document, SCHEMA)
    assert all(check["passed"] for check in document["checks"])
    return {c["title"]: [call["call"] for call in c["calls"]] for c in document["api_trace"]["columns"]}


def _has(calls: list[str], *wanted: str) -> bool:
    return all(any(name == w or (w == "accept" and name == "accept4") for name in calls) for w in wanted)


def test_the_c_programs_calls_stand_beside_pythons(engine, built_images, no_leftovers, tmp_path):
    columns = _columns(tmp_path, "c")
    assert list(columns) == ["TCP server · Python", "TCP server · C", "TCP client · Python", "TCP client · C",
                             "UDP server · Python", "UDP server · C", "UDP client · Python", "UDP client · C"]
    for language in ("Python", "C"):
        assert _has(columns[f"TCP server · {language}"], "socket", "bind", "listen", "accept", "recvfrom", "sendto")
        assert _has(columns[f"TCP client · {language}"], "socket", "connect", "sendto", "recvfrom")
        assert _has(columns[f"UDP server · {language}"], "socket", "bind", "recvfrom", "sendto")
        assert _has(columns[f"UDP client · {language}"], "socket", "sendto", "recvfrom")
        assert "connect" not in columns[f"UDP client · {language}"]
        assert "listen" not in columns[f"TCP client · {language}"] + columns[f"UDP server · {language}"]
    # The C server is the textbook's: it accepts and then waits for the next client, never closing.
    assert columns["TCP server · C"][-1] == "accept"


def test_the_java_programs_calls_stand_beside_pythons(engine, built_images, no_leftovers, tmp_path):
    columns = _columns(tmp_path, "java")
    assert len(columns) == 8
    assert _has(columns["TCP server · Java"], "socket", "bind", "listen", "accept")
    assert _has(columns["TCP client · Java"], "socket", "connect")   # its data goes by write()/read()
    assert _has(columns["UDP server · Java"], "socket", "bind", "recvfrom", "sendto")
    assert _has(columns["UDP client · Java"], "socket", "sendto", "recvfrom")
    # The JVM's start-up probes (sockets opened and closed unused) are set apart, not shown.
    assert columns["UDP client · Java"][0] == "socket" and columns["UDP client · Java"].count("socket") == 1


def test_an_unknown_language_creates_nothing(engine, no_leftovers, tmp_path):
    with pytest.raises(ParameterError, match="allowed python, c, java"):
        app.run("api-trace", {}, report_dir=str(tmp_path / "reports"), lang="rust")
    assert not (tmp_path / "reports").exists()
