"""An exec's exit status as the engine records it (lab.engines.docker_shared.exit_status).

The engine may end an exec's output stream before it records the exit status; read once at that
moment (as the SDK's exec_run does), the status is missing and a supervised run loses its end.
"""
from __future__ import annotations

import doctest
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from lab.engines import docker_shared
from lab.engines.docker_shared import exit_status


def looks(*states: Mapping[str, Any]) -> tuple[list[str], Any]:
    """An inspect that answers the given states in turn (then the last one again), counting calls."""
    seen: list[str] = []
    answers: Iterator[Mapping[str, Any]] = iter(states)
    last: list[Mapping[str, Any]] = [states[-1]]

    def inspect(exec_id: str) -> Mapping[str, Any]:
        seen.append(exec_id)
        last[0] = next(answers, last[0])
        return last[0]
    return seen, inspect


def test_a_status_already_recorded_is_read_with_one_look():
    seen, inspect = looks({"Running": False, "ExitCode": 0})
    assert exit_status(inspect, "e") == 0 and seen == ["e"]


def test_a_status_recorded_after_the_output_ended_is_the_commands_own_not_missing():
    seen, inspect = looks({"Running": True, "ExitCode": None}, {"Running": True, "ExitCode": None},
                          {"Running": False, "ExitCode": 3})
    assert exit_status(inspect, "e") == 3 and len(seen) == 3


def test_an_exit_code_is_taken_only_once_the_engine_says_the_exec_is_over():
    _, inspect = looks({"Running": False, "ExitCode": None}, {"Running": False, "ExitCode": 137})
    assert exit_status(inspect, "e") == 137


def test_a_status_never_recorded_reads_as_missing_after_the_wait_and_says_so(caplog):
    _, inspect = looks({"Running": True, "ExitCode": None})
    with caplog.at_level(logging.WARNING, logger=docker_shared.__name__):
        assert exit_status(inspect, "0123456789abcdef", wait_s=0.05) is None
    assert "0123456789ab" in caplog.text and "no exit status" in caplog.text


@pytest.mark.parametrize("module", [docker_shared])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0
