"""What a Ctrl-C does to a grade's runs (lab.grading.grade._stop_runs), with a real thread pool.

The engine here only counts its sweeps and tells the runs blocked on it that their hosts are gone;
the real engine's part (a sweep removes containers and closes agent channels) is
tests/integration/test_students.py::test_grade_interrupted_tears_everything_down.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from lab.common import SESSION_ENV
from lab.grading import grade as grading

ENDS_WITHIN_S = 10.0   # a liveness bound: the bug this guards against waited for ever


class SweptEngine:
    """Counts sweeps; a run waiting for "its host" is released by the sweep after the one it
    started under (as a host created just after a sweep listed the session is removed by the next)."""

    def __init__(self) -> None:
        self.sweeps = 0
        self.changed = threading.Condition()

    def remove_labelled(self, run_id: str | None = None, session: str | None = None) -> tuple[int, int]:
        assert run_id is None and session == "stop-test"
        with self.changed:
            self.sweeps += 1
            self.changed.notify_all()
        return 0, 0

    def run_until_swept_twice_more(self, started: threading.Event) -> str:
        with self.changed:
            first = self.sweeps
            started.set()
            self.changed.wait_for(lambda: self.sweeps >= first + 2, timeout=ENDS_WITHIN_S * 3)
        return "ended by a sweep"


@pytest.fixture(autouse=True)
def session(monkeypatch):
    monkeypatch.setenv(SESSION_ENV, "stop-test")


def test_runs_under_way_are_swept_until_they_end_and_queued_ones_never_start():
    engine = SweptEngine()
    pool = ThreadPoolExecutor(max_workers=2)
    started = [threading.Event(), threading.Event()]
    futures = [pool.submit(engine.run_until_swept_twice_more, event) for event in started]
    queued = [pool.submit(lambda: "should never run") for _ in range(4)]
    for event in started:
        assert event.wait(ENDS_WITHIN_S)
    stopper = threading.Thread(target=grading._stop_runs, args=(pool, engine, futures + queued), daemon=True)
    stopper.start()
    stopper.join(ENDS_WITHIN_S)
    assert not stopper.is_alive(), "_stop_runs still waiting: a cancelled run counted as under way?"
    assert all(f.cancelled() for f in queued)
    assert [f.result() for f in futures] == ["ended by a sweep"] * 2
    assert engine.sweeps >= 3   # swept while the runs wound down, and once more after
