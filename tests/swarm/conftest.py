"""The two-node swarm the swarm engine's tests run on, built on this machine for the test session.

The host's engine is the manager; the second node is Debian's dockerd in a container built from
the local base (lab.engines.swarm_local, images/swarm-node). Up once per session (a few seconds,
plus about 25 s the first time to build the node image, and the image copy to the node), taken
down after; the session's teardown checks that the host engine is left as it was found, swarm
mode included. Needs root (the node container gets every capability but CAP_SYS_RESOURCE).
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
FIRST_SPREAD: dict[str, object] = {}


@pytest.fixture(scope="session")
def manager():
    """The host's engine (the swarm's manager)."""
    from lab.engines.docker_engine import DockerEngine
    from lab.errors import EngineUnavailable

    try:
        return DockerEngine.connect(timeout=60)   # a busy machine answers slowly; the swarm waits
    except EngineUnavailable as error:
        if IN_CI:
            pytest.fail(f"CI=true but no Docker engine: {error}")
        pytest.skip(f"no Docker engine: {error}")


@pytest.fixture(scope="session")
def local_swarm(manager, built_images) -> Iterator[object]:
    """A running two-node swarm; SOCKLAB_NODES tells socklab how to reach the second node."""
    from lab.engines import swarm_local

    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("CI=true but not root: the local swarm's node container needs root")
        pytest.skip("the local swarm's node container needs root")
    from lab.engines.swarm_local import host_state

    before = host_state(manager.client)
    previous = os.environ.get("SOCKLAB_NODES")
    with swarm_local.running(manager, extra_nodes=1) as swarm:
        os.environ["SOCKLAB_NODES"] = swarm.nodes_setting()
        try:
            yield swarm
        finally:
            if previous is None:
                os.environ.pop("SOCKLAB_NODES", None)
            else:
                os.environ["SOCKLAB_NODES"] = previous
    after = host_state(manager.client)
    assert after == before, f"the local swarm changed the host engine: {before} -> {after}"


@pytest.fixture(scope="session")
def swarm_engine(local_swarm):
    """The swarm engine on the local swarm, with the images copied to the node (timed)."""
    import time

    from lab.common import APPS_IMAGE, TOOLS_IMAGE
    from lab.engines.swarm_engine import SwarmEngine

    engine = SwarmEngine.connect()
    started = time.monotonic()
    FIRST_SPREAD["lines"] = engine.spread_images([APPS_IMAGE, TOOLS_IMAGE], progress=lambda message: None)
    FIRST_SPREAD["seconds"] = time.monotonic() - started
    yield engine
    engine.swarm.close()


@pytest.fixture(scope="session")
def first_spread(swarm_engine) -> dict[str, object]:
    """What copying the images to the fresh node did, and how long it took."""
    return FIRST_SPREAD


@pytest.fixture(scope="session")
def nodes(swarm_engine, local_swarm) -> tuple[str, str]:
    """(the manager's hostname, the node container's hostname)."""
    manager_node = next(n.hostname for n in swarm_engine.swarm.nodes if n.is_self)
    return manager_node, local_swarm.nodes[0].hostname


@pytest.fixture
def swarm_no_leftovers(swarm_engine, session) -> Iterator[None]:
    """Nothing of this session's runs on any node (services, containers, networks) after a test."""
    before = swarm_engine.count_labelled(session=session)
    yield
    after = swarm_engine.count_labelled(session=session)
    assert after == before == (0, 0), f"left behind on the swarm: {after}"
