"""`invoke shell`: which run and host are meant, and bad input naming what exists (no Docker)."""
import pytest

from lab.errors import BadInput
from lab.engines.base import LiveRun
from lab.report.console import command_hint
from lab.shell import pick

ECHO = LiveRun("a1b2c3", "udp-echo", ("client", "server"))
SEQ = LiveRun("d4e5f6", "tcp-sequential", ("client-1", "client-2", "server"))


def test_the_only_running_lab_is_meant_without_run():
    assert pick([ECHO], "server", None) == (ECHO, "server")


def test_several_labs_need_run_and_are_listed():
    with pytest.raises(BadInput, match=r"2 labs are running; say which with --run ID: "
                                       r"a1b2c3 \(udp-echo: client, server\); d4e5f6"):
        pick([ECHO, SEQ], "server", None)
    assert pick([ECHO, SEQ], "client-2", "d4e5f6") == (SEQ, "client-2")


def test_no_lab_says_how_to_keep_one():
    with pytest.raises(BadInput, match="--keep"):
        pick([], "server", None)


def test_bad_run_or_host_is_bad_input_naming_what_exists():
    with pytest.raises(BadInput, match=r"--run zzz: no such lab running; running: a1b2c3 \(udp-echo"):
        pick([ECHO], "server", "zzz")
    with pytest.raises(BadInput, match="run a1b2c3 has no host 'router'; its hosts: client, server"):
        pick([ECHO], "router", None)
    assert BadInput.exit_code == 2


def test_keep_prints_a_command_for_the_server():
    assert command_hint("a1b2c3", ["client", "server"]) == "invoke shell server --run a1b2c3"
    assert command_hint("a1b2c3", ["router", "client"]) == "invoke shell router --run a1b2c3"
