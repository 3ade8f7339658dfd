"""Closing a hijacked stream (an agent channel, an attached shell) while another thread reads it.

An interrupted grade drains its pool while a run still waits for a kept host's agent to answer.
On Linux, closing a socket does not wake a thread blocked in poll()/recv() on it: that run waited
until its scenario's time limit (the interrupted grade overran its test's 120 s). Real sockets here:
the engine's end of the attach is one end of a socketpair.
"""
from __future__ import annotations

import socket
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
