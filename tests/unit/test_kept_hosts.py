"""Which of a run's hosts a grade may keep between students (lab.run.runner._may_be_kept), and the
fixed MAC of a fixed address: pure decisions, no engine."""
from __future__ import annotations

from lab import catalog
from lab.engines.docker_engine import fixed_mac
from lab.grading import submission
from lab.run.runner import _may_be_kept
from lab.scenario.plan import build_plan


def graded(scenario: str, role: str, name: str, **options: object):
    program = submission.program_from_bytes(b"pass\n", name, name)
    return build_plan(catalog.load(scenario), {}, students={role: program}, **options)


def test_the_lab_clients_of_a_students_server_may_be_kept():
    assert _may_be_kept(graded("udp-echo", "server", "UDPServer.py"), set()) == {"client"}
    assert _may_be_kept(graded("tcp-sequential", "server", "TCPServer.py"), set()) == {
        "client-1", "client-2", "client-3"}


def test_never_the_host_where_a_students_program_runs():
    assert _may_be_kept(graded("udp-echo", "client", "UDPClient.py"), set()) == set()


def test_never_an_impaired_captured_looked_at_or_routed_host():
    assert _may_be_kept(build_plan(catalog.load("udp-loss"), {}), set()) == set()   # its client is impaired
    assert _may_be_kept(graded("udp-echo", "server", "UDPServer.py", capture=True), set()) == set()
    assert _may_be_kept(graded("udp-echo", "server", "UDPServer.py"), {"client"}) == set()
    assert _may_be_kept(build_plan(catalog.load("routed"), {}), set()) == set()


def test_the_fixed_mac_is_the_one_docker_derived_from_the_address():
    assert fixed_mac("172.18.0.2") == "02:42:ac:12:00:02"
    assert fixed_mac("192.168.224.253") == "02:42:c0:a8:e0:fd"
