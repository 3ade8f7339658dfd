"""The local two-node swarm itself, and images reaching every node without a registry."""
from __future__ import annotations

import pytest

from lab.common import APPS_IMAGE, TOOLS_IMAGE

pytestmark = [pytest.mark.integration, pytest.mark.swarm]


def test_a_local_swarm_comes_up_and_leaves_the_engine_as_it_found_it(manager, built_images):
    """Its own up/down cycle (first in the session, so the host usually starts outside swarm mode)."""
    import os

    from lab.engines import swarm_local
    from lab.engines.swarm_local import host_state

    if os.geteuid() != 0:
        pytest.skip("the local swarm's node container needs root")
    before = host_state(manager.client)
    with swarm_local.running(manager, extra_nodes=1) as swarm:
        nodes = {n.attrs["Description"]["Hostname"]: n.attrs for n in manager.client.nodes.list()}
        node = swarm.nodes[0]
        assert nodes[node.hostname]["Status"]["State"] == "ready"
        assert nodes[node.hostname]["Spec"]["Availability"] == "active"
        assert nodes[node.hostname]["Status"]["Addr"] == node.url.split("//")[1].rsplit(":", 1)[0]
        assert manager.client.info()["Swarm"]["LocalNodeState"] == "active"
        network = manager.client.networks.get(swarm.network)
        assert network.attrs["Internal"], "the node's API is on a bridge with no route out"
    assert host_state(manager.client) == before


def test_images_reach_every_node_once_and_are_the_managers_build(swarm_engine, first_spread, nodes):
    _, node_name = nodes
    assert first_spread["lines"], "the fresh node got nothing"
    assert all("loaded" in line for line in first_spread["lines"]), first_spread["lines"]
    print(f"image distribution to a fresh node: {first_spread['seconds']:.1f} s")
    again = swarm_engine.spread_images([APPS_IMAGE, TOOLS_IMAGE], progress=lambda message: None)
    assert again == [f"{node_name}: {APPS_IMAGE} present", f"{node_name}: {TOOLS_IMAGE} present"], \
        "a node with the same build is skipped, not copied again"
    node = swarm_engine.swarm.node(node_name)
    for tag in (APPS_IMAGE, TOOLS_IMAGE):
        assert node.client.images.get(tag).id == swarm_engine.client.images.get(tag).id
