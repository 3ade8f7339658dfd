"""``[[subnets]]`` and ``[[routes]]`` of a scenario file: address arithmetic, kept apart from the
schema checks of the other sections (lab.scenario.loader) because it is its own subject: every
address must be a host address of its prefix, a route's next hop a neighbour on one of the host's
subnets, and a subnet's hosts up before anything is sent.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Any

from lab.errors import ScenarioFileError
from lab.scenario import fields
from lab.scenario.model import Host, Route, Step, Subnet

INTERFACE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,14}$")


def subnets(tables: list[Any], hosts: Sequence[Host], steps: Sequence[Step], filename: str
             ) -> tuple[Subnet, ...]:
    """``[[subnets]]``: name (also the interface name), network, prefix, addresses {host = ip}.

    Their hosts must be up when the topology is (clients, programless hosts, services of a leading
    start step): the segments are made then, before any program sends.
    """
    by_name = {h.name: h for h in hosts}
    early = set(steps[0].hosts) if steps and steps[0].action == "start" else set()
    subnets: list[Subnet] = []
    for index, table in enumerate(tables):
        where = f"{filename}: subnets[{index}]"
        fields.a_table(table, where)
        fields.only(table, {"name", "network", "prefix", "addresses"}, where)
        name = str(fields.require(table, "name", where))
        if not INTERFACE_NAME.match(name) or name.startswith("eth") or name == "lo":
            raise ScenarioFileError(f"{where}.name: {name!r} names the interface in each host: 1-15 "
                                    "lower-case letters, digits or '-', starting with a letter, not eth*")
        network = str(fields.require(table, "network", where))
        try:
            prefix = ipaddress.IPv4Network(str(fields.require(table, "prefix", where)))
        except ValueError as error:
            raise ScenarioFileError(f"{where}.prefix: {error} (e.g. 10.77.1.0/24)") from None
        addresses = fields.require(table, "addresses", where)
        if not isinstance(addresses, dict) or len(addresses) < 2:
            raise ScenarioFileError(f"{where}.addresses: a table of at least two hosts, host = \"address\"")
        for host, address in addresses.items():
            if host not in by_name:
                raise ScenarioFileError(f"{where}.addresses: unknown host '{host}'")
            member = by_name[host]
            if network not in member.networks:
                raise ScenarioFileError(f"{where}: host {host} is not on network {network} "
                                        f"(its networks: {', '.join(member.networks)})")
            if member.replicas != 1:
                raise ScenarioFileError(f"{where}: host {host} has replicas; a subnet address is for one host")
            if not (member.role == "client" or member.program == "none" or host in early):
                raise ScenarioFileError(f"{where}: host {host} starts in a later step; put it in the "
                                        "first start step so its subnet exists before anything is sent")
            try:
                ip = ipaddress.IPv4Address(str(address))
            except ValueError as error:
                raise ScenarioFileError(f"{where}.addresses.{host}: {error}") from None
            if ip not in prefix or ip in (prefix.network_address, prefix.broadcast_address):
                raise ScenarioFileError(f"{where}.addresses.{host}: {ip} is not a host address of {prefix}")
        if len(set(map(str, addresses.values()))) != len(addresses):
            raise ScenarioFileError(f"{where}.addresses: two hosts share an address")
        subnets.append(Subnet(name, network, str(prefix), {h: str(a) for h, a in addresses.items()}))
    if len({s.name for s in subnets}) != len(subnets):
        raise ScenarioFileError(f"{filename}: subnets: two subnets share a name")
    return tuple(subnets)


def routes(tables: list[Any], subnets: tuple[Subnet, ...], filename: str) -> tuple[Route, ...]:
    """``[[routes]]``: host, to (a prefix), via (an address on one of the host's subnets)."""
    routes = []
    for index, table in enumerate(tables):
        where = f"{filename}: routes[{index}]"
        fields.a_table(table, where)
        fields.only(table, {"host", "to", "via"}, where)
        host = str(fields.require(table, "host", where))
        own = [s for s in subnets if host in s.addresses]
        if not own:
            raise ScenarioFileError(f"{where}.host: {host} has an address on no subnet")
        try:
            to = ipaddress.IPv4Network(str(fields.require(table, "to", where)))
            via = ipaddress.IPv4Address(str(fields.require(table, "via", where)))
        except ValueError as error:
            raise ScenarioFileError(f"{where}: {error}") from None
        if not any(via in ipaddress.IPv4Network(s.prefix) and s.addresses[host] != str(via) for s in own):
            raise ScenarioFileError(f"{where}.via: {via} is no neighbour of {host} on its subnets "
                                    f"({', '.join(s.prefix for s in own)})")
        routes.append(Route(host, str(to), str(via)))
    return tuple(routes)
