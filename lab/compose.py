"""The lab's topologies as plain Compose files, for exploring by hand with `docker compose`.

Rendered from the same plan the runner uses, so the files cannot drift from the scenarios: a test
compares the committed compose/NAME.yml with a fresh rendering. Impairments are left out (they
need socklab's helper and backend probe); the file says so.
"""
from __future__ import annotations

import json

from lab.images import APPS_IMAGE
from lab.plan import Plan


def render(plan: Plan) -> str:
    """YAML text (flow lists written as JSON, which YAML accepts) for one planned scenario."""
    scenario = plan.scenario
    lines = [
        f"# Generated from scenarios/{scenario.name}.toml by `invoke compose {scenario.name}`;",
        "# edit the scenario, then regenerate. Default parameters.",
        f"# Lesson: {scenario.lesson}",
    ]
    if plan.impaired:
        lines.append("# Impairments are not part of this file: `invoke scenario` applies them.")
    lines += [f"name: socklab-{scenario.name}", "networks:"]
    for network in scenario.networks:
        lines += [f"  {network.name}:", f"    internal: {'true' if network.internal else 'false'}"]
    lines.append("services:")
    services = [i.name for i in plan.instances if i.role == "service"]
    for instance in plan.instances:
        lines += [
            f"  {instance.name}:",
            f"    image: {APPS_IMAGE}",
            f"    hostname: {instance.name}",
            f"    command: {json.dumps(list(instance.argv))}",
            f"    networks: {json.dumps(list(instance.networks))}",
            '    security_opt: ["no-new-privileges"]',
            "    init: true",
        ]
        if instance.role == "client" and services:
            lines.append(f"    depends_on: {json.dumps(services)}")
    return "\n".join(lines) + "\n"
