"""The lab's topologies as plain Compose files, for exploring by hand with `docker compose`.

Rendered from the same plan the runner uses, so the files cannot drift from the scenarios: a test
compares the committed compose/NAME.yml with a fresh rendering, and another brings each one up
with a real Compose tool. Impairments are left out (they need socklab's helper and backend
probe); the file says so.

The files must run on both Compose generations a student meets: Debian's `docker-compose` 1.29
and the Compose v2 plugin. So: no top-level `name:` (1.29 rejects it; the project name comes from
`-p`), the image tag through `${SOCKLAB_IMAGE_TAG:-latest}` (both interpolate it), and
`pull_policy: never` (both accept it; the image is built locally by `invoke build`, never pulled).
Clients wait for the server's healthcheck (its port is listening), so they never race it.
"""
from __future__ import annotations

import json

from lab.common import NO_HOST_ADDRESS
from lab.scenario.plan import START_AT, Instance, Plan

IMAGE = "socklab/apps:${SOCKLAB_IMAGE_TAG:-latest}"
PORT = 12000
# What `ss` shows while a server's socket waits for clients: a TCP socket in LISTEN, a bound UDP one.
LISTENING = {"tcp-server": f"ss -Hltn 'sport = :{PORT}' | grep -q .",
             "udp-server": f"ss -Hlun 'sport = :{PORT}' | grep -q ."}


def render(plan: Plan) -> str:
    """YAML text (flow lists written as JSON, which YAML accepts) for one planned scenario."""
    scenario = plan.scenario
    lines = [
        f"# Generated from scenarios/{scenario.name}.toml by `invoke compose {scenario.name}`;",
        "# edit the scenario, then regenerate. Default parameters.",
        f"# Lesson: {scenario.lesson}",
        f"# Run: docker-compose -p {scenario.name} -f compose/{scenario.name}.yml up"
        " (or `docker compose ...`); then `... down`.",
    ]
    if plan.impaired:
        lines.append("# Impairments are not part of this file: `invoke scenario` applies them.")
    if scenario.subnets:
        lines.append("# The routed subnets and routes are not part of this file: socklab's helpers set them")
        lines.append("# up (lab/run/routing.py), so here the client cannot reach the server's subnet.")
    lines.append("networks:")
    for network in scenario.networks:
        lines += [f"  {network.name}:", f"    internal: {'true' if network.internal else 'false'}"]
        if network.internal:  # as in the lab: the bridge holds no address the hosts could reach
            lines += ["    driver_opts:"] + [f'      {k}: "{v}"' for k, v in NO_HOST_ADDRESS.items()]
    lines.append("services:")
    services = [i for i in plan.instances if i.role == "service"]
    for instance in plan.instances:
        lines += _service(instance, services)
    return "\n".join(lines) + "\n"


def _service(instance: Instance, services: list[Instance]) -> list[str]:
    """One service: least privilege as in the lab, a healthcheck on servers, clients after them."""
    lines = [
        f"  {instance.name}:",
        f"    image: {IMAGE}",
        "    pull_policy: never",
        f"    hostname: {instance.name}",
        # {start_at} is the runner's; under Compose the clients start when their server is healthy.
        f"    command: {json.dumps([a if a != START_AT else '0' for a in instance.argv])}",
        f"    networks: {json.dumps(list(instance.networks))}",
        '    cap_drop: ["ALL"]',
        '    security_opt: ["no-new-privileges"]',
        "    init: true",
    ]
    probe = LISTENING.get(instance.program)
    if instance.role == "service" and probe:
        # The first check runs one interval after the start: keep it short.
        lines += ["    healthcheck:", f"      test: {json.dumps(['CMD-SHELL', probe])}",
                  '      interval: "1s"', '      timeout: "3s"', "      retries: 30"]
    if instance.role == "client" and services:
        lines.append("    depends_on:")
        for service in services:
            condition = "service_healthy" if service.program in LISTENING else "service_started"
            lines += [f"      {service.name}:", f"        condition: {condition}"]
    return lines
