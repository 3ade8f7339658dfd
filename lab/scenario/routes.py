"""The scenario's own IP subnets and static routes as commands: pure, no engine.

What each host's helper must run (VXLAN segments, routes) and what `ip route` must then show;
lab.run.routing runs the scripts on a live run, the routes check (lab.checks.routed) reads the
expected lines, and the capture decoders know VXLAN_PORT. Why VXLAN at all is said in
lab.run.routing.
"""
from __future__ import annotations

import ipaddress
import shlex

from lab.scenario.model import Route, Scenario, Subnet

VXLAN_PORT = 4789


def segment_commands(subnet: Subnet, vni: int, host: str, underlay: dict[str, str],
                     device: str) -> list[list[str]]:
    """The commands that put `host` on `subnet`: a VXLAN interface that sends to every other member.

    `underlay` maps each member to its address on the subnet's Docker network; `device` is the
    host's interface on that network. One all-zero FDB entry per peer: broadcasts (ARP) and unknown
    destinations go to every member.

    >>> s = Subnet("lan-a", "net-a", "10.77.1.0/24", {"client": "10.77.1.10", "router": "10.77.1.1"})
    >>> for c in segment_commands(s, 1, "client", {"client": "172.18.0.3", "router": "172.18.0.2"}, "eth0"):
    ...     print(" ".join(c))
    ip link add lan-a type vxlan id 1 local 172.18.0.3 dev eth0 dstport 4789
    bridge fdb append 00:00:00:00:00:00 dev lan-a dst 172.18.0.2
    ip address add 10.77.1.10/24 dev lan-a
    ip link set lan-a up
    """
    prefix = ipaddress.IPv4Network(subnet.prefix)
    commands = [["ip", "link", "add", subnet.name, "type", "vxlan", "id", str(vni), "local", underlay[host],
                 "dev", device, "dstport", str(VXLAN_PORT)]]
    commands += [["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", subnet.name, "dst", underlay[peer]]
                 for peer in subnet.addresses if peer != host]
    commands += [["ip", "address", "add", f"{subnet.addresses[host]}/{prefix.prefixlen}", "dev", subnet.name],
                 ["ip", "link", "set", subnet.name, "up"]]
    return commands


def route_device(route: Route, subnets: tuple[Subnet, ...]) -> str:
    """The interface a route leaves by: the subnet of the host that holds its gateway."""
    via = ipaddress.IPv4Address(route.via)
    return next(s.name for s in subnets
                if route.host in s.addresses and via in ipaddress.IPv4Network(s.prefix))


def route_command(route: Route, subnets: tuple[Subnet, ...]) -> list[str]:
    return ["ip", "route", "replace", route.to, "via", route.via, "dev", route_device(route, subnets)]


def expected_routes(scenario: Scenario, host: str) -> list[str]:
    """The `ip route` lines a host must show: its subnets (connected) and its static routes.

    >>> from lab import catalog
    >>> expected_routes(catalog.load("routed"), "client")
    ['10.77.1.0/24 dev lan-a proto kernel scope link src 10.77.1.10', '10.77.2.0/24 via 10.77.1.1 dev lan-a']
    """
    lines = [f"{s.prefix} dev {s.name} proto kernel scope link src {s.addresses[host]}"
             for s in scenario.subnets if host in s.addresses]
    lines += [f"{r.to} via {r.via} dev {route_device(r, scenario.subnets)}"
              for r in scenario.routes if r.host == host]
    return lines


def host_script(scenario: Scenario, host: str, underlay: dict[str, dict[str, str]]) -> str:
    """One shell script for a host's helper: its segments, then its routes (one exec per host).

    The Docker interface of each segment is looked up by the host's Docker address. A Docker
    engine before v25 leaves a default route to the bridge's gateway (an address nobody holds in a
    lab, see lab.engines.docker_engine); it goes first, so `ip route` shows the lesson's routes only.
    """
    lines = ["set -e", "ip route del default 2>/dev/null || true"]
    for vni, subnet in enumerate(scenario.subnets, start=1):
        if host not in subnet.addresses:
            continue
        local = underlay[host][subnet.network]
        peers = {h: underlay[h][subnet.network] for h in subnet.addresses}
        lines.append(f"dev=$(ip -o -4 address show | awk -v a={local}/ 'index($4, a) == 1 {{print $2}}')")
        lines.append(f'[ -n "$dev" ] || {{ echo "no interface holds {local}" >&2; exit 3; }}')
        for command in segment_commands(subnet, vni, host, peers, "DEV"):
            lines.append(shlex.join(command).replace(" DEV ", ' "$dev" '))
    lines += [shlex.join(route_command(r, scenario.subnets)) for r in scenario.routes if r.host == host]
    return "\n".join(lines)
