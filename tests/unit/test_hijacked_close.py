"""Closing a hijacked stream (an agent channel, an attached shell) while another thread reads it.

An interrupted grade drains its pool while a run still waits for a kept host's agent to answer.
On Linux, closing a socket does not wake a thread blocked in poll()/recv() on it: that run waited
until its scenario's time limit (the interrupted grade overran its test's 120 s). Real sockets here:
the engine's end of the attach is one end of a socketpair.
"""
from __future__ import annotations

import socket
import struct
import threading
import time
from concurrent.futures import Future

import docker.utils.socket as docker_socket
import pytest

from lab.engines.docker_agent import AgentChannel
from lab.engines.docker_shared import close_hijacked
from lab.errors import StepFailed

WOKEN_WITHIN_S = 5.0   # a liveness bound: without the fix the reader never wakes


def in_thread(work) -> Future:
    outcome: Future = Future()

    def run() -> None:
        try:
            outcome.set_result(work())
        except BaseException as error:  # handed to the test
            outcome.set_exception(error)
    threading.Thread(target=run, daemon=True).start()
    return outcome


class AttachableHost:
    """What AgentChannel needs of a container: a name and an attach that hands over a stream."""

    def __init__(self, stream: socket.SocketIO) -> None:
        self.name = "lab-client"
        self._stream = stream

    def attach_socket(self, params: dict) -> socket.SocketIO:
        return self._stream


@pytest.fixture
def hijacked():
    """Our end of an attach as the SDK hands it over (a SocketIO over the socket), and the engine's end."""
    ours, engines = socket.socketpair()
    yield socket.SocketIO(ours, "rwb"), engines
    engines.close()
    ours.close()


def test_closing_a_stream_wakes_the_thread_blocked_reading_it(hijacked):
    stream, engines = hijacked
    reading = in_thread(lambda: docker_socket.read_exactly(stream, 8))
    time.sleep(0.2)   # the reader is in poll() by now
    close_hijacked(stream, "a test stream")
    # It wakes with end of file ("Unexpected EOF"), or finds the stream closed meanwhile: either
    # way it ends now; a wait that outlives the bound raises TimeoutError, not one of these.
    with pytest.raises((docker_socket.SocketError, ValueError, OSError)) as woken:
        reading.result(timeout=WOKEN_WITHIN_S)
    assert not isinstance(woken.value, TimeoutError)


def test_a_run_waiting_for_the_agent_fails_at_once_when_its_channel_is_closed(hijacked):
    stream, engines = hijacked
    channel = AgentChannel(AttachableHost(stream))
    running = in_thread(lambda: channel.run(["python3", "/opt/socklab/programs/udp_client.py"]))
    assert engines.recv(4096).startswith(b'{"argv"')   # the request went out; no answer comes
    channel.close()
    with pytest.raises(StepFailed, match="stopped answering"):
        running.result(timeout=WOKEN_WITHIN_S)


def test_a_channel_closed_before_the_run_reads_fails_the_run_too(hijacked):
    stream, engines = hijacked
    channel = AgentChannel(AttachableHost(stream))
    channel.close()
    with pytest.raises(StepFailed, match="stopped answering"):
        channel.run(["python3", "/opt/socklab/programs/udp_client.py"])


def test_a_sweep_closes_the_channels_of_hosts_gone_and_keeps_the_others():
    from lab.engines import docker_engine

    pairs = [socket.socketpair() for _ in range(2)]
    gone, alive = (AgentChannel(AttachableHost(socket.SocketIO(ours, "rwb"))) for ours, _ in pairs)
    docker_engine._agents.update({"gone-id": gone, "alive-id": alive})
    try:
        running = in_thread(lambda: gone.run(["python3", "/opt/socklab/programs/tcp_client.py"]))
        assert pairs[0][1].recv(4096).startswith(b'{"argv"')
        docker_engine.close_agents_of_gone_hosts({"alive-id", "some-other-container"})
        with pytest.raises(StepFailed, match="stopped answering"):
            running.result(timeout=WOKEN_WITHIN_S)
        assert list(docker_engine._agents) == ["alive-id"]
        answering = in_thread(lambda: alive.run(["python3", "/opt/socklab/programs/tcp_client.py"]))
        assert pairs[1][1].recv(4096).startswith(b'{"argv"')   # the live host's channel still works
        answer = b'socklab-agent {"rc": 0, "stdout": "ok", "stderr": ""}\n'
        pairs[1][1].sendall(struct.pack(">BxxxL", 1, len(answer)) + answer)
        assert answering.result(timeout=WOKEN_WITHIN_S).stdout == "ok"
    finally:
        docker_engine._agents.pop("alive-id", None)
        docker_engine._agents.pop("gone-id", None)
        for ours, engines in pairs:
            ours.close()
            engines.close()


def test_a_closed_channel_ends_its_run_even_when_the_socket_close_wakes_nobody(hijacked, monkeypatch):
    """The closed flag alone ends the wait: an interrupted grade once waited in poll() on a
    channel that had been shut down and closed, until its scenario's time limit."""
    from lab.engines import docker_agent

    stream, engines = hijacked
    channel = AgentChannel(AttachableHost(stream))
    monkeypatch.setattr(docker_agent, "close_hijacked", lambda stream, what: None)   # the socket stays open
    running = in_thread(lambda: channel.run(["python3", "/opt/socklab/programs/udp_client.py"]))
    assert engines.recv(4096).startswith(b'{"argv"')
    channel.close()
    with pytest.raises(StepFailed, match="channel was closed"):
        running.result(timeout=WOKEN_WITHIN_S)
