"""What the docker and swarm engines do alike, written once: both speak the same Docker SDK.

The docker engine runs containers on one engine; the swarm engine runs services whose tasks are
containers on each node's engine. Per container they do the same things (read its logs until a
line appears, remove it with its anonymous volumes, say an SDK error in one line), and they list
their runs by the same labels. The engine-specific parts (which engine to ask, services or
containers) stay in each engine.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import docker
import requests

from lab.common import LABEL_ROLE, LABEL_RUN, LABEL_SCENARIO, LABEL_SESSION
from lab.engines.base import LiveRun
from lab.errors import StepFailed

log = logging.getLogger(__name__)

# The engine went away (connection refused, reset, timed out), as opposed to an API error.
CONNECTION_ERRORS = (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError)
LOG_POLL_S = 0.02   # a poll is two short round trips; a run waits on each service's first event


def short_error(error: BaseException) -> str:
    """A one-line reason from an SDK error, without the HTTP noise."""
    text = getattr(error, "explanation", None) or str(error)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return " ".join(str(text).split())[:300]


def label_selector(run_id: str | None, session: str | None, *extra: str) -> list[str]:
    """Docker label filters for one run, one session's runs, or (both None) every socklab run."""
    labels = [f"{LABEL_RUN}={run_id}" if run_id else LABEL_RUN, *extra]
    if session:
        labels.append(f"{LABEL_SESSION}={session}")
    return labels


def live_runs_of(objects: Iterable[tuple[str, Mapping[str, str]]]) -> list[LiveRun]:
    """Runs from (name, labels) of their containers or services; helpers and strangers left out."""
    hosts: dict[str, set[str]] = {}
    scenarios: dict[str, str] = {}
    for name, labels in objects:
        run_id = labels.get(LABEL_RUN, "")
        prefix = f"socklab-{run_id}-"
        if labels.get(LABEL_ROLE) == "helper" or not name.startswith(prefix):
            continue
        hosts.setdefault(run_id, set()).add(name[len(prefix):])
        scenarios[run_id] = labels.get(LABEL_SCENARIO, "?")
    return [LiveRun(run_id, scenarios[run_id], tuple(sorted(names))) for run_id, names in sorted(hosts.items())]


def wait_for_log(host: str, needle: str, timeout: float, logs: Callable[[], str],
                 status: Callable[[], str], stderr: Callable[[], str]) -> None:
    """Wait until a container printed `needle` (e.g. its ``listening`` event).

    `status` reloads the container and returns its state (a StepFailed from it means the
    container is gone); an exited container fails at once with the end of its stderr.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in logs():
            return
        try:
            state = status()
        except StepFailed:
            raise StepFailed(f"{host} was removed while starting") from None
        if state == "exited":
            raise StepFailed(f"{host} exited before it was ready: {stderr()[-500:]}")
        time.sleep(LOG_POLL_S)
    raise StepFailed(f"{host} was not ready within {timeout:.0f} s (waited for {needle!r})")


def follow_until(host: str, stream: Any, needles: Sequence[str], timeout: float) -> str | None:
    """Read a followed log stream (``container.logs(stream=True, follow=True)``) until a needle
    shows (returned); None when the stream ends (the container's command ended) or at the deadline:
    an event awaited, not polled for.

    The stream is read in a daemon thread and awaited with the deadline, then closed: a transport
    whose streams cannot be cancelled (ssh://) leaves that thread to end with the container.
    """
    found: list[str] = []
    ended = threading.Event()

    def read() -> None:
        keep = max(map(len, needles), default=0)
        seen = ""
        try:
            for chunk in stream:
                seen = seen[-keep:] + chunk.decode(errors="replace")
                hit = next((n for n in needles if n in seen), None)
                if hit is not None:
                    found.append(hit)
                    return
        except Exception as error:  # noqa: BLE001 - the engine went away: the caller's next call says so
            log.debug("following %s ended: %s", host, error)
        finally:
            ended.set()

    threading.Thread(target=read, daemon=True, name=f"follow-{host}").start()
    ended.wait(timeout)
    try:
        stream.close()
    except Exception as error:  # noqa: BLE001 - e.g. ssh:// cannot cancel a stream
        log.debug("closing the log stream of %s: %s", host, error)
    return found[0] if found else None


def wait_for_any_log(host: str, needles: Sequence[str], timeout: float, logs: Callable[[], str],
                     status: Callable[[], str]) -> str | None:
    """Poll until the host's stdout shows one of `needles` (returned), its command ends (None) or the
    time runs out (None): for engines that cannot follow a log as a stream."""
    deadline = time.monotonic() + timeout
    while True:
        text = logs()
        found = next((n for n in needles if n in text), None)
        if found is not None:
            return found
        try:
            if status() == "exited":
                return None
        except StepFailed:
            return None
        if time.monotonic() >= deadline:
            return None
        time.sleep(LOG_POLL_S)


def remove_container(container: Any) -> None:
    """Remove a container with its anonymous volumes (a host's home); already gone is fine."""
    try:
        container.remove(force=True, v=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as error:  # already being removed, or gone meanwhile
        log.warning("container %s not removed: %s", container.name, short_error(error))
