"""Probes: testinfra's own socket rules over one listing per host and moment, no detection execs.

testinfra's docker backend is replaced by a fake that answers with real `ss` output from the apps
image and records every command, so these tests count the round trips a look costs.
"""
from __future__ import annotations

import pytest
import testinfra
from testinfra.backend.docker import DockerBackend
from testinfra.host import Host
from testinfra.modules.socket import LinuxSocketSS, Socket

from lab.run import looks as probes
from lab.scenario.model import Probe

EVERY = """\
Netid State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
udp   UNCONN 0      0         127.0.0.11:45617      0.0.0.0:*
udp   UNCONN 0      0            0.0.0.0:12000      0.0.0.0:*
tcp   LISTEN 0      4096      127.0.0.11:38867      0.0.0.0:*
"""
EVERY_WITH_A_CONNECTION = EVERY + "tcp   TIME-WAIT 0 0 192.168.1.2:12000 192.168.1.3:40000\n"
LISTENING = EVERY
DETECTION = {
    "uname -s": "Linux\n", "uname -m": "x86_64\n", "command -v command": "command\n",
    "command -v ss": "/usr/bin/ss\n",
    "cat /etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
                           "VERSION_CODENAME=bookworm\n",
}


LISTENING_UDP = """\
State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
UNCONN 0      0         127.0.0.11:45617      0.0.0.0:*
UNCONN 0      0            0.0.0.0:12000      0.0.0.0:*
"""
LISTENING_TCP = """\
State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
LISTEN 0      4096      127.0.0.11:38867      0.0.0.0:*
"""


class Ran(list):
    """Commands run, as (container, command), and what the fake answers to each."""

    answers: dict[str, str]


class FakeLab:
    """A Docker lab as the looks see it: testinfra URLs, and Docker's DNS resolver in every host."""

    engine_addresses = ("127.0.0.11",)

    def testinfra_url(self, logical: str) -> str:
        return f"docker://socklab-test-{logical}"


@pytest.fixture
def commands(monkeypatch):
    """Every command the fake containers ran, as (container, command)."""
    ran = Ran()
    ran.answers = {"ss --numeric --all --tcp --udp": EVERY, "ss --numeric --listening": LISTENING,
                   "ss --numeric --listening --udp": LISTENING_UDP,
                   "ss --numeric --listening --tcp": LISTENING_TCP, **DETECTION}

    def run(self, command, *args, **kwargs):
        text = self.get_command(command, *args).replace("/usr/bin/ss", "ss")
        if self.name == "socklab-test-server":
            ran.append((self.name, text))
        known = text in ran.answers
        return self.result(0 if known else 127, text.encode(), ran.answers.get(text, ""), "")

    monkeypatch.setattr(DockerBackend, "run", run)
    monkeypatch.setattr(Host, "_host_cache", {})
    return ran


def udp_echo_probes() -> list[Probe]:
    return [Probe("bound", "server", "udp://0.0.0.0:12000", "listening"),
            Probe("no-tcp", "server", "", "no-tcp"),
            Probe("not-tcp-bound", "server", "tcp://0.0.0.0:12000", "not-listening")]


def test_one_moment_costs_one_ss_per_host_and_no_detection(commands):
    seen = probes.look_all(FakeLab(), udp_echo_probes(), "client")
    assert [(o.probe, o.passed, o.after) for o in seen] == [
        ("bound", True, "client"), ("no-tcp", True, "client"), ("not-tcp-bound", True, "client")]
    assert [c for _, c in commands] == ["ss --numeric --all --tcp --udp"]
    probes.look_all(FakeLab(), udp_echo_probes(), None)
    assert len(commands) == 2, "a second moment needs no detection either"


def test_a_tcp_socket_of_any_state_fails_no_tcp_and_docker_dns_does_not(commands):
    commands.answers["ss --numeric --all --tcp --udp"] = EVERY_WITH_A_CONNECTION
    observation, = probes.look_all(FakeLab(), [Probe("no-tcp", "server", "", "no-tcp")], None)
    assert not observation.passed and "TIME-WAIT" in observation.detail and "127.0.0.11" not in observation.detail


def test_a_failed_look_is_a_failed_probe_not_a_crash(commands):
    commands.answers.pop("ss --numeric --all --tcp --udp")
    observation, = probes.look_all(FakeLab(), [Probe("no-tcp", "server", "", "no-tcp")], None)
    assert not observation.passed and "testinfra could not look" in observation.detail


@pytest.mark.parametrize("spec, expected", [
    ("udp://0.0.0.0:12000", True), ("udp://12000", False), ("tcp://0.0.0.0:12000", False),
    ("udp://0.0.0.0:12001", False), ("tcp://127.0.0.11:38867", True)])
def test_listening_follows_testinfra_is_listening_exactly(commands, spec, expected):
    """The shared listing gives the verdict testinfra's own host.socket(spec).is_listening gives."""
    ours, = probes.look_all(FakeLab(), [Probe("p", "server", spec, "listening")], None)
    theirs = testinfra.get_host("docker://socklab-test-other").socket(spec).is_listening
    assert ours.passed is theirs is expected


def test_the_seeded_socket_module_is_the_one_testinfra_detects(commands):
    """What we tell testinfra up front is what its detection finds on the apps image."""
    detected = Socket.get_module_class(testinfra.get_host("docker://socklab-test-fresh"))
    seeded = probes.testinfra_host("docker://socklab-test-server").socket
    assert issubclass(detected, LinuxSocketSS) and issubclass(seeded, LinuxSocketSS)
    assert detected._command.rsplit("/", 1)[-1] == seeded._command == "ss"


def test_sockets_that_do_not_listen_are_not_read_as_listening(commands):
    commands.answers["ss --numeric --all --tcp --udp"] = EVERY_WITH_A_CONNECTION
    seen = probes.look_all(FakeLab(), [Probe("tcp", "server", "tcp://192.168.1.2:12000", "not-listening"),
                                       Probe("udp", "server", "udp://0.0.0.0:12000", "listening")], None)
    assert [o.passed for o in seen] == [True, True]
