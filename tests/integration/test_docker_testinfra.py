"""testinfra's docker-api:// backend (lab.engines.docker_testinfra) on a real container: it must
answer exactly as testinfra's own docker:// backend does, through the engine's API."""
from __future__ import annotations

import secrets

import pytest

from lab.common import APPS_IMAGE
from lab.engines.base import HostSpec, LabRun

# Exit status, both streams, the user and a socket listing: what the probes rely on.
COMMAND = "id -un; ss --numeric --all --tcp --udp; echo to-stderr >&2; exit 3"


def test_a_look_through_the_api_answers_as_testinfra_docker_backend_does(engine, built_images, session):
    import testinfra

    with LabRun(engine, f"ti{secrets.token_hex(2)}", "testinfra-api") as lab:
        lab.create_network("lan")
        lab.start(HostSpec("server", APPS_IMAGE, ("python3", "-m", "http.server", "12000"), "service", ("lan",)))
        lab.wait_for_log("server", "Serving HTTP", 30)
        url = lab.testinfra_url("server")
        assert url.startswith("docker-api://")
        container_name = f"socklab-{lab.identity.run_id}-server"

        through_api = testinfra.get_host(url).run(COMMAND)
        through_cli = testinfra.get_host(f"docker://{container_name}").run(COMMAND)
        assert (through_api.rc, through_api.stdout, through_api.stderr) == \
               (through_cli.rc, through_cli.stdout, through_cli.stderr) == \
               (3, through_cli.stdout, "to-stderr\n")
        assert through_api.stdout.startswith("student\n") and ":12000" in through_api.stdout
        assert testinfra.get_host(url).socket("tcp://0.0.0.0:12000").is_listening

        as_root = url.replace("docker-api://", "docker-api://root@")
        assert testinfra.get_host(as_root).run("id -un").stdout == "root\n"
    # The run is over: its containers are no longer reachable under their URL.
    with pytest.raises(RuntimeError, match="not part of a running lab"):
        testinfra.get_host(url).run("true")
    assert engine.count_labelled(session=session) == (0, 0)
