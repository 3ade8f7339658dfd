"""`api-trace --lang`: the option, the plan of the textbook's C/Java programs in the traced hosts,
the host table that points each textbook client at its own server, and the table beside Python's."""
from __future__ import annotations

import doctest
import hashlib
from pathlib import Path

import pytest

from lab import catalog
from lab.errors import BadInput, ParameterError
from lab.observe import lang_trace as observe_lang
from lab.observe.lang_trace import beside, without_runtime_probes
from lab.observe.trace import socket_calls
from lab.run.lang_trace import reference_programs
from lab.run.runner import _host_table
from lab.scenario import lang_trace
from lab.scenario.lang_trace import check_lang, lang_plan, parse_lang, traced_programs
from lab.scenario.model import StudentProgram
from lab.scenario.plan import SERVER_ALIAS, build_plan


def _built(kind: str, lang: str = "c") -> StudentProgram:
    source = f"/* {kind} */"
    return StudentProgram(f"/ref/{kind}.c", f"{kind}.c", source, hashlib.sha256(source.encode()).hexdigest(),
                          language=lang, artifact="QUJD", entry="program")


def test_doctests() -> None:
    assert doctest.testmod(lang_trace).failed == 0
    assert doctest.testmod(observe_lang).failed == 0


@pytest.mark.parametrize("given, chosen", [(None, "python"), ("python", "python"), ("C", "c"), ("java", "java")])
def test_lang_values(given: str | None, chosen: str) -> None:
    assert parse_lang(given) == chosen


def test_bad_lang_is_bad_input_naming_the_allowed_values() -> None:
    with pytest.raises(BadInput) as raised:
        parse_lang("rust")
    assert raised.value.exit_code == 2
    assert str(raised.value) == "--lang rust: allowed python, c, java"


def test_lang_needs_a_scenario_that_traces_the_four_programs() -> None:
    check_lang(build_plan(catalog.load("udp-echo"), {}), "python")   # the default asks nothing
    with pytest.raises(ParameterError, match="udp-echo traces none of the four programs"):
        check_lang(build_plan(catalog.load("udp-echo"), {}), "c")
    check_lang(build_plan(catalog.load("api-trace"), {}), "java")


def test_the_plan_runs_each_reference_program_under_the_supervisor_on_its_pythons_host() -> None:
    plan = build_plan(catalog.load("api-trace"), {"message": "hi"})
    assert traced_programs(plan) == {"tcp-server": "tcp-server", "tcp-client": "tcp-client",
                                     "udp-server": "udp-server", "udp-client": "udp-client"}
    planned = lang_plan(plan, {kind: _built(kind) for kind in lang_trace.PROGRAMS})
    by_name = {i.name: i for i in planned.instances}
    for kind in lang_trace.PROGRAMS:
        instance = by_name[kind]
        assert instance.student is not None and instance.student.name == f"{kind}.c"
        assert not instance.traced                       # the supervisor traces it (--trace), not a second strace
        assert instance.argv[:2] == ("python3", "/opt/socklab/programs/student_run.py")
        assert "--trace" in instance.argv and "--artifact-b64" in instance.argv
        assert instance.aliases == ()
    assert by_name["tcp-client"].inputs == ("hi from tcp-client",)
    assert by_name["udp-client"].inputs == ("hi from udp-client",)
    assert by_name["tcp-client"].hostname_of == "tcp-server"
    assert by_name["udp-client"].hostname_of == "udp-server"
    assert by_name["tcp-server"].inputs == () and "--stay" in by_name["tcp-server"].argv
    assert planned.host_table and planned.capture_hosts == ()
    assert set(planned.students) == {"server", "client"}
    assert planned.scenario.checks == plan.scenario.checks


def test_a_missing_reference_program_is_named() -> None:
    plan = build_plan(catalog.load("api-trace"), {})
    with pytest.raises(ParameterError, match="no reference program for udp-client"):
        lang_plan(plan, {kind: _built(kind) for kind in lang_trace.PROGRAMS if kind != "udp-client"})


def test_each_textbook_client_finds_its_own_server_as_hostname() -> None:
    plan = lang_plan(build_plan(catalog.load("api-trace"), {}), {k: _built(k) for k in lang_trace.PROGRAMS})
    names = {"tcp-server": ("10.0.0.2", "lan"), "udp-server": ("10.0.0.3", "lan"), "other": ("10.9.0.9", "far")}
    tcp = _host_table(plan.instance("tcp-client"), names)
    udp = _host_table(plan.instance("udp-client"), names)
    assert tcp == {"tcp-server": "10.0.0.2", "udp-server": "10.0.0.3", SERVER_ALIAS: "10.0.0.2"}
    assert udp[SERVER_ALIAS] == "10.0.0.3"


@pytest.mark.parametrize("lang, extension", [("c", ".c"), ("java", ".java")])
def test_the_reference_programs_are_the_textbooks(lang: str, extension: str) -> None:
    programs = reference_programs(lang)
    assert sorted(programs) == sorted(lang_trace.PROGRAMS)
    assert all(p.language == lang and p.name.endswith(extension) for p in programs.values())


def test_a_missing_reference_folder_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "textbook-c").mkdir()
    (tmp_path / "textbook-c" / "TCPServer.c").write_text("int main(void){return 0;}")
    with pytest.raises(ParameterError, match="no reference tcp-client, udp-server, udp-client"):
        reference_programs("c", tmp_path)


JVM_START = """[pid 7] 1.0 socket(AF_INET6, SOCK_STREAM, IPPROTO_IP) = 5
[pid 7] 1.1 close(5) = 0
[pid 7] 1.2 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 5
[pid 7] 1.3 getsockopt(5, SOL_TCP, TCP_KEEPIDLE, [7200], [4]) = 0
[pid 7] 1.4 close(5) = 0
[pid 7] 1.5 socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 5
[pid 7] 1.6 bind(5, {sa_family=AF_INET, sin_port=htons(12000), sin_addr=inet_addr("0.0.0.0")}, 16) = 0
[pid 7] 1.7 recvfrom(5, "hi", 2048, 0, {sa_family=AF_INET, sin_port=htons(4000), sin_addr=inet_addr("10.0.0.5")}, [16]) = 2
"""


def test_a_runtimes_unused_start_up_sockets_are_set_apart() -> None:
    calls, _ = socket_calls(JVM_START)
    kept, hidden = without_runtime_probes(calls)
    assert [c.name for c in kept] == ["socket", "bind", "recvfrom"]
    assert hidden == 5


def test_each_languages_column_stands_right_after_pythons() -> None:
    python = {"tracer": "strace -f", "notes": "N.", "columns": [
        {"host": h, "title": t, "calls": [{"text": "socket"}]} for h, t in (("tcp-server", "TCP server"),
                                                                           ("tcp-client", "TCP client"))]}
    java = {"tracer": "strace -f", "notes": "", "columns": [
        {"host": h, "title": t, "calls": [], "runtime_calls_hidden": 4} for h, t in (("tcp-server", "TCP server"),
                                                                                    ("tcp-client", "TCP client"))]}
    table = beside(python, java, "Java", "Java reads with read().")
    assert [(c["host"], c["title"]) for c in table["columns"]] == [
        ("tcp-server", "TCP server · Python"), ("tcp-server", "TCP server · Java"),
        ("tcp-client", "TCP client · Python"), ("tcp-client", "TCP client · Java")]
    assert "tcp-server 4, tcp-client 4 calls" in table["notes"] and table["notes"].endswith("Java reads with read().")
