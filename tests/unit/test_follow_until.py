"""Awaiting a line on a followed log (lab.engines.docker_shared.follow_until), on stand-in streams."""
from __future__ import annotations

import queue
import time

from lab.engines.docker_shared import follow_until


class Stream:
    """Chunks as a followed log yields them; blocks when empty until closed, like the engine's."""

    def __init__(self, chunks: list[bytes], ends: bool = True) -> None:
        self.chunks: queue.Queue[bytes | None] = queue.Queue()
        for chunk in chunks:
            self.chunks.put(chunk)
        if ends:
            self.chunks.put(None)
        self.closed = False

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        chunk = self.chunks.get()
        if chunk is None:
            raise StopIteration
        return chunk

    def close(self) -> None:
        self.closed = True
        self.chunks.put(None)


EVENT = '"event": "listening"'


def test_a_needle_split_across_chunks_is_found():
    stream = Stream([b'{"event": "out', b'put"}\n{"event": "lis', b'tening", "t": 1}\n'], ends=False)
    assert follow_until("server", stream, [EVENT, '"event": "exited"'], 5) == EVENT
    assert stream.closed


def test_a_stream_that_ends_without_the_needle_says_none_at_once():
    started = time.monotonic()
    assert follow_until("server", Stream([b'{"event": "exited", "rc": 1}\n']), [EVENT], 5) is None
    assert time.monotonic() - started < 1


def test_the_deadline_closes_a_silent_stream():
    stream = Stream([], ends=False)
    started = time.monotonic()
    assert follow_until("server", stream, [EVENT], 0.3) is None
    assert 0.25 < time.monotonic() - started < 2 and stream.closed


def test_a_students_quoted_text_does_not_match_the_event():
    forged = b'{"event": "output", "text": "\\"event\\": \\"listening\\""}\n'
    assert follow_until("server", Stream([forged]), [EVENT], 2) is None
