"""Shared fixtures: the real engine for integration tests, with a leak check after each test."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def engine():
    """The real Docker engine. Outside CI a missing engine skips; under CI=true it fails."""
    from lab.engine import Engine
    from lab.errors import EngineUnavailable

    try:
        return Engine.connect()
    except EngineUnavailable as error:
        if IN_CI:
            pytest.fail(f"CI=true but no Docker engine: {error}")
        pytest.skip(f"no Docker engine: {error}")


@pytest.fixture(scope="session")
def built_images(engine) -> None:
    from lab.images import ensure_images

    ensure_images(engine, progress=lambda message: None)


@pytest.fixture
def no_leftovers(engine) -> Iterator[None]:
    """Fails the test when anything labelled io.socklab.run remains after it."""
    before = engine.count_labelled()
    yield
    after = engine.count_labelled()
    assert after == before == (0, 0), f"containers/networks left labelled io.socklab.run: {after}"
