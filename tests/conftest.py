"""Shared fixtures: the real engine for integration tests, with a leak check after each test."""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
# A CI runner's own files (job summary, step outputs, env, path): the suite runs inside a workflow
# step, and a test's report must never land in that step's summary or outputs. They are removed
# for the whole session (subprocesses inherit the environment); a test that checks what socklab
# writes there sets its own, in tmp_path.
RUNNER_FILES = ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STATE")
for _name in RUNNER_FILES:
    os.environ.pop(_name, None)
# Every run this test session makes (in-process or through `invoke` subprocesses, which inherit
# the environment) carries this session label, so leak checks never see someone else's live lab.
SESSION = f"pytest-{os.getpid()}-{secrets.token_hex(3)}"
os.environ["SOCKLAB_SESSION"] = SESSION


@pytest.fixture(scope="session")
def session() -> str:
    """The label value of this test session's runs."""
    return SESSION


@pytest.fixture(scope="session")
def engine():
    """The real Docker engine. Outside CI a missing engine skips; under CI=true it fails."""
    from lab.engines import connect
    from lab.errors import EngineUnavailable

    try:
        return connect()
    except EngineUnavailable as error:
        if IN_CI:
            pytest.fail(f"CI=true but no Docker engine: {error}")
        pytest.skip(f"no Docker engine: {error}")


@pytest.fixture(scope="session")
def built_images(engine) -> None:
    from lab.engines.images import ensure_images

    ensure_images(engine, progress=lambda message: None)


@pytest.fixture
def no_leftovers(engine) -> Iterator[None]:
    """Fails the test when anything of this session's runs remains after it."""
    before = engine.count_labelled(session=SESSION)
    yield
    after = engine.count_labelled(session=SESSION)
    assert after == before == (0, 0), f"containers/networks of this session left behind: {after}"
