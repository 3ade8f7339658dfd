"""The lab honours `docker context` on the real engine: contexts made by the real docker CLI.

A context pointing at a symlink to this machine's engine socket must connect (the SDK's default
would not find that path, so a pass proves the context was read), and a context pointing at a
socket that does not exist must fail with "no Docker engine answers" — not silently fall back.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import docker
import pytest

from lab.engines import docker_endpoint
from lab.engines.docker_engine import DockerEngine as Engine
from lab.errors import EngineUnavailable

pytestmark = pytest.mark.integration
SOCKET = Path("/var/run/docker.sock")


def docker_cli(config: Path, *args: str) -> None:
    subprocess.run(["docker", "--config", str(config), *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def context_config(tmp_path, monkeypatch, engine):
    if shutil.which("docker") is None or not SOCKET.exists():
        pytest.skip("needs the docker CLI and a local engine socket")
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "config"))
    return tmp_path


def test_context_pointing_at_this_engine_connects(context_config):
    link = context_config / "engine.sock"
    link.symlink_to(SOCKET)
    docker_cli(context_config / "config", "context", "create", "socklab-test",
               "--docker", f"host=unix://{link}")
    docker_cli(context_config / "config", "context", "use", "socklab-test")
    assert docker_endpoint.resolve().host == f"unix://{link}"
    engine = Engine.connect()
    assert engine.version() != "unknown"
    # the same engine the default socket reaches
    assert engine.client.info()["ID"] == docker.DockerClient(base_url=f"unix://{SOCKET}").info()["ID"]


def test_context_pointing_nowhere_fails_instead_of_falling_back(context_config):
    docker_cli(context_config / "config", "context", "create", "socklab-nowhere",
               "--docker", f"host=unix://{context_config / 'missing.sock'}")
    docker_cli(context_config / "config", "context", "use", "socklab-nowhere")
    with pytest.raises(EngineUnavailable, match="no Docker engine answers"):
        Engine.connect(timeout=5)


def test_docker_host_still_wins(context_config, monkeypatch):
    docker_cli(context_config / "config", "context", "create", "socklab-nowhere",
               "--docker", f"host=unix://{context_config / 'missing.sock'}")
    docker_cli(context_config / "config", "context", "use", "socklab-nowhere")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{SOCKET}")
    assert Engine.connect().version() != "unknown"
