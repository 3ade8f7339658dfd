"""Faults on the real engine: signals at every point of a run, a killed run, the engine going away.

Each case runs `invoke scenario` in its own session label (SOCKLAB_SESSION), so what it counts
is only its own objects, never another test's or someone's live lab. The run is stopped at a
known point by the SOCKLAB_PAUSE_AT test hook (lab/run/pause.py), which logs "paused at POINT".
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lab.common import APPS_IMAGE
from lab.engines.base import HostSpec, LabRun
from lab.run.pause import POINTS

ROOT = Path(__file__).resolve().parents[2]
INVOKE = [sys.executable, "-m", "invoke"]
CLEAN_WITHIN_S = 10

pytestmark = pytest.mark.integration


def start(args: list[str], session: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([*INVOKE, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "SOCKLAB_SESSION": session, **env})


def wait_for_pause(process: subprocess.Popen, point: str, timeout: float = 120) -> str:
    """Read the run's stderr until it says it paused at `point`; what it wrote so far."""
    seen: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in process.stderr:
            seen.append(line)
            if f"paused at {point}" in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(timeout), f"the run never paused at {point}: {''.join(seen)[-2000:]}"
    return "".join(seen)


def wait_until_clean(engine, session: str, timeout: float) -> float:
    began = time.monotonic()
    while engine.count_labelled(session=session) != (0, 0) and time.monotonic() - began < timeout:
        time.sleep(0.1)
    return time.monotonic() - began


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("point", POINTS)
def test_a_signal_at_any_point_leaves_nothing(engine, built_images, tmp_path, point, sig):
    """The interrupt matrix: exit 130, and nothing labelled left within a few seconds."""
    session = f"faults-{point}-{sig.name}-{secrets.token_hex(3)}"
    process = start(["scenario", "udp-loss", "--count", "5", "--report-dir", str(tmp_path)], session,
                    SOCKLAB_PAUSE_AT=point)
    try:
        wait_for_pause(process, point)
        made = engine.count_labelled(session=session)
        signalled = time.monotonic()
        process.send_signal(sig)
        out, err = process.communicate(timeout=60)
        exited = time.monotonic() - signalled
        waited = wait_until_clean(engine, session, CLEAN_WITHIN_S)
        left = engine.count_labelled(session=session)
        print(f"MATRIX {point:8} {sig.name:7} made {made} left {left} exit {process.returncode} "
              f"after {exited:.1f} s, clean after {exited + waited:.1f} s")
        assert process.returncode == 130, (out, err)
        assert "interrupted" in out + err
        assert left == (0, 0), f"left behind after {CLEAN_WITHIN_S} s: {left}"
    finally:
        if process.poll() is None:
            process.kill()
        engine.remove_labelled(session=session)


def test_a_killed_run_is_stale_and_clean_stale_spares_a_live_run(engine, built_images, monkeypatch):
    """SIGKILL leaves objects (nothing can tear down); the next run names them; `clean --stale`
    removes exactly those, while a live run of the same session keeps all of its own."""
    session = f"faults-stale-{secrets.token_hex(3)}"
    monkeypatch.setenv("SOCKLAB_SESSION", session)
    try:
        _killed_run_then_clean_stale(engine, session)
    finally:
        engine.remove_labelled(session=session)   # whatever happened, this session leaves nothing
    assert engine.count_labelled(session=session) == (0, 0)


def _killed_run_then_clean_stale(engine, session: str) -> None:
    with LabRun(engine, f"live{secrets.token_hex(2)}", "live") as live:   # a live run of this process
        live.create_network("lan")
        live.start(HostSpec("host", APPS_IMAGE, ("sleep", "infinity"), "client", ("lan",)))
        live_objects = engine.count_labelled(live.identity.run_id)
        assert live_objects == (1, 1)

        killed = start(["scenario", "udp-loss", "--count", "5"], session, SOCKLAB_PAUSE_AT="client")
        wait_for_pause(killed, "client")
        killed.kill()
        killed.wait(30)
        left = engine.count_labelled(session=session)
        assert left[0] > live_objects[0], "the killed run left nothing to find"

        # The next run names what dead runs left (its own verdict is not this test's business).
        nudged = start(["scenario", "udp-echo"], session)
        out, err = nudged.communicate(timeout=180)
        assert "object(s) of dead runs" in out and "invoke clean --stale" in out, out + err

        cleaned = subprocess.run([*INVOKE, "clean", "--stale"], cwd=ROOT, capture_output=True, text=True,
                                 timeout=120, env={**os.environ, "SOCKLAB_SESSION": session})
        assert cleaned.returncode == 0, cleaned.stderr
        assert "of 1 dead run(s)" in cleaned.stdout, cleaned.stdout
        assert engine.count_labelled(session=session) == live_objects, "clean --stale took too much or too little"


class SocketProxy:
    """A unix-socket forwarder to the real engine that the test can cut off (the engine "goes
    away" for the run) and bring back: the SDK talks to the real engine through it."""

    def __init__(self, path: Path, target: str) -> None:
        self.path, self.target = path, target
        self.connections: list[socket.socket] = []
        self.listener: socket.socket | None = None

    def up(self) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.path))
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def down(self) -> None:
        """Stop listening and cut every open connection, as a stopping engine does."""
        assert self.listener is not None
        self.listener.close()
        self.path.unlink()
        for connection in self.connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()
        self.connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.target)
            self.connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            try:
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass


def test_the_engine_going_away_mid_run_exits_3_and_clean_stale_finds_what_was_left(engine, built_images, tmp_path):
    from lab.engines.docker_endpoint import resolve

    host = resolve().host or "unix:///var/run/docker.sock"
    if not host.startswith("unix://"):
        pytest.skip(f"the engine is not on a unix socket here ({host})")
    session = f"faults-engine-{secrets.token_hex(3)}"
    proxy = SocketProxy(tmp_path / "engine.sock", host.removeprefix("unix://"))
    proxy.up()
    through_proxy = {"DOCKER_HOST": f"unix://{proxy.path}"}
    # 200 datagrams, 20% loss: the client runs for seconds, its exec streaming through the proxy.
    process = start(["scenario", "udp-loss", "--count", "200"], session, SOCKLAB_PAUSE_AT="client:2",
                    **through_proxy)
    try:
        wait_for_pause(process, "client")
        assert engine.count_labelled(session=session)[0] >= 3
        proxy.down()
        out, err = process.communicate(timeout=90)
        assert process.returncode == 3, (out, err)
        assert "the Docker engine stopped answering" in err and "invoke clean --stale" in err, err
        assert "Traceback" not in err
        left = engine.count_labelled(session=session)
        assert left[0] >= 3, "the run could not have removed anything without its engine"

        proxy.up()
        cleaned = subprocess.run([*INVOKE, "clean", "--stale"], cwd=ROOT, capture_output=True, text=True,
                                 timeout=120, env={**os.environ, "SOCKLAB_SESSION": session, **through_proxy})
        assert cleaned.returncode == 0, cleaned.stderr
        assert "of 1 dead run(s)" in cleaned.stdout, cleaned.stdout
        assert engine.count_labelled(session=session) == (0, 0)
    finally:
        if process.poll() is None:
            process.kill()
        engine.remove_labelled(session=session)


def test_files_reach_a_read_only_host_before_and_after_it_starts(engine, built_images, session):
    """HostSpec.files (written before the command runs) and Lab.put_file (into a running host)."""
    with LabRun(engine, f"files{secrets.token_hex(2)}", "files") as lab:
        lab.create_network("lan")
        lab.start(HostSpec("host", APPS_IMAGE, ("python3", "/home/student/hello.py"), "service", ("lan",),
                           files={"/home/student/hello.py": b"print('hello from a file')\nimport time; time.sleep(60)\n"}))
        lab.wait_for_log("host", "hello from a file", 30)
        lab.put_file("host", "/tmp/later.txt", b"put later\n", mode=0o600)
        shown = lab.exec("host", ["sh", "-c", "cat /tmp/later.txt; stat -c '%a %U' /tmp/later.txt"])
        assert shown.stdout.split("\n")[:2] == ["put later", "600 student"], shown
    assert engine.count_labelled(session=session) == (0, 0)
