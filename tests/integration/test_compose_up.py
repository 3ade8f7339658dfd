"""Each Compose file without impairments really runs with a real Compose tool: up, replies, down.

Debian's docker-compose 1.29 where installed (./bootstrap installs it), else the Compose v2 plugin.
Each test uses its own project name, so it never meets another test's or a student's project.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from lab import catalog
from lab.scenario.plan import build_plan
from lab.run.record import parse_events

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"
pytestmark = pytest.mark.integration

# What each client of a scenario must show: its exit code, and "replies" (every reply is its
# message in upper case) or the error/timeout event it ends with. Unlisted clients: exit 0, replies.
EXPECTED = {
    "tcp-no-server": {"client": (1, "ECONNREFUSED")},
    "udp-no-server": {"client": (1, "timeout"), "connected-client": (1, "ECONNREFUSED")},
}
# Routed subnets, like impairments, need socklab's helpers: those files cannot echo by themselves.
UNIMPAIRED = [name for name, path in catalog.available().items()
              if not build_plan(catalog.load(name), {}).impaired and not catalog.load(name).subnets]


def compose_tool() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if IN_CI:
        pytest.fail("CI=true but no Compose tool: ./bootstrap installs docker-compose")
    pytest.skip("no Compose tool (apt-get install docker-compose)")


def project_objects(project: str) -> list[str]:
    label = f"label=com.docker.compose.project={project}"
    found = []
    for kind in (["ps", "-aq"], ["network", "ls", "-q"], ["volume", "ls", "-q"]):
        out = subprocess.run(["docker", *kind, "--filter", label], capture_output=True, text=True, check=True)
        found += out.stdout.split()
    return found


def test_every_unimpaired_scenario_has_a_compose_test():
    assert {"tcp-echo", "udp-echo", "tcp-sequential", "udp-multi-client"} <= set(UNIMPAIRED)


@pytest.mark.parametrize("name", UNIMPAIRED)
def test_compose_file_runs_and_the_clients_get_their_replies(name, engine, built_images):
    tool = compose_tool()
    project = f"socklabtest-{name}-{secrets.token_hex(3)}"
    base = [*tool, "-p", project, "-f", str(ROOT / "compose" / f"{name}.yml")]
    plan = build_plan(catalog.load(name), {})
    clients = [i.name for i in plan.instances if i.role == "client"]
    try:
        # `up -d` starts the clients only once the server's healthcheck passes.
        up = subprocess.run([*base, "up", "-d"], capture_output=True, text=True, timeout=180)
        assert up.returncode == 0, up.stdout + up.stderr
        for client in clients:
            ids = subprocess.run([*base, "ps", "-q", client], capture_output=True, text=True, check=True)
            container = ids.stdout.split()[0]
            waited = subprocess.run(["docker", "wait", container], capture_output=True, text=True, timeout=120)
            rc = int(waited.stdout.strip())
            logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True, check=True)
            events = parse_events(logs.stdout)
            want_rc, want = EXPECTED.get(name, {}).get(client, (0, "replies"))
            assert rc == want_rc, f"{client}: exit {rc}\n{logs.stdout}{logs.stderr}"
            if want == "replies":
                sent = [e["text"] for e in events if e["event"] == "sent"]
                received = [e["text"] for e in events if e["event"] == "received"]
                assert sent and received == [text.upper() for text in sent], json.dumps(events)
            elif want == "timeout":
                assert any(e["event"] == "timeout" for e in events) and not any(
                    e["event"] == "received" for e in events), json.dumps(events)
            else:
                assert [e.get("name") for e in events if e["event"] == "error"] == [want], json.dumps(events)
    finally:
        down = subprocess.run([*base, "down", "--volumes", "--timeout", "2"], capture_output=True,
                              text=True, timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    assert project_objects(project) == [], "the Compose project left objects behind"
