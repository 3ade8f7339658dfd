"""The scenario's own IP subnets and static routes, set by each host's helper (routed lessons).

Why VXLAN: Docker's internal networks (the lab's only kind) drop every frame whose IP address lies
outside the network's own subnet (its isolation rules also see bridged traffic), and a router's
job is exactly to send such packets. So each scenario subnet is a VXLAN segment among its hosts:
an interface named after the subnet in each member, its packets carried inside UDP between the
members' Docker addresses on the subnet's Docker network (the same thing Docker's overlay networks
do). The routers forward between these interfaces, lowering each packet's TTL; the programs see
plain IPv4 and hold no capability: the helper (NET_ADMIN) makes the interfaces and routes, and
forwarding is a sysctl of the router's namespace set when Docker creates it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from lab.engines.base import Lab
from lab.errors import EnvironmentProblem, StepFailed
from lab.run.impairing import HelperRunner, start_helper
from lab.run.record import RoutingObservation
from lab.scenario.plan import Plan
from lab.scenario.routes import host_script

log = logging.getLogger(__name__)


def _configure(runner: HelperRunner, host: str, script: str) -> None:
    result = runner.run(["sh", "-c", script])
    if result.rc != 0:
        text = result.stderr.strip() or result.stdout.strip()
        if "Unknown device type" in text or "vxlan" in text.lower() and "not supported" in text.lower():
            raise EnvironmentProblem(f"the kernel has no VXLAN support (module vxlan), which routed "
                                     f"lessons need: {text}")
        raise StepFailed(f"{host}: setting up its subnets and routes failed: {text}")


def _look(lab: Lab, host: str) -> tuple[list[str], str]:
    """What a student would type on the host: ip route, and the forwarding switch (testinfra)."""
    import testinfra  # imported by the runs that look, not by every start-up

    look = testinfra.get_host(lab.testinfra_url(host))
    out = look.run("ip route; echo ---; cat /proc/sys/net/ipv4/ip_forward").stdout
    routes, _, forwarding = out.partition("---\n")
    return [" ".join(line.split()) for line in routes.splitlines() if line.strip()], forwarding.strip()


def set_up(lab: Lab, plan: Plan, progress: Callable[[str], None]) -> RoutingObservation:
    """Make every subnet and route (the hosts at once), then look at each member's routes."""
    scenario = plan.scenario
    members = list(dict.fromkeys(h for s in scenario.subnets for h in s.addresses))
    observed = RoutingObservation()
    for host in members:
        networks = {s.network for s in scenario.subnets if host in s.addresses}
        observed.underlay[host] = {n: lab.address(host, n) for n in sorted(networks)}

    def configure(host: str) -> None:
        _configure(start_helper(lab, plan.instance(host)), host, host_script(scenario, host, observed.underlay))

    with ThreadPoolExecutor(max_workers=len(members)) as pool:
        for future in [pool.submit(configure, host) for host in members]:
            future.result()
        looks = dict(zip(members, pool.map(lambda host: _look(lab, host), members)))
    for host, (routes, forwarding) in looks.items():
        observed.routes[host], observed.forwarding[host] = routes, forwarding
    for subnet in scenario.subnets:
        progress(f"subnet {subnet.name} {subnet.prefix} on {subnet.network}: "
                 + ", ".join(f"{h} {a}" for h, a in subnet.addresses.items()))
    for route in scenario.routes:
        progress(f"route on {route.host}: {route.to} via {route.via}")
    return observed
