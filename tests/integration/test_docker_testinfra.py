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
        assert_the_shell_answers_as_one_exec_per_command_would(testinfra.get_host(url), lab, container_name)
    # The run is over: its containers are no longer reachable under their URL.
    with pytest.raises(RuntimeError, match="not part of a running lab"):
        testinfra.get_host(url).run("true")
    assert engine.count_labelled(session=session) == (0, 0)


# Output without a final newline, a large output (many frames), stderr alone, exit statuses,
# and state that must not carry over from one command to the next.
EDGE_COMMANDS = [
    "printf 'no newline'",
    "head -c 300000 /dev/zero | tr '\\0' x; echo; echo tail",
    "printf 'only stderr' >&2; exit 7",
    "cd /tmp; export SOCKLAB_T=1; echo set",
    "pwd; echo ${SOCKLAB_T:-unset}",
    "cat",   # stdin is /dev/null: it must not read the next command
]


def assert_the_shell_answers_as_one_exec_per_command_would(host, lab, container_name):
    from lab.engines import docker_testinfra

    shell = docker_testinfra._shell(host.backend.name)
    assert shell is not None and not shell.closed, "the kept shell did not open"
    for command in EDGE_COMMANDS:
        through_shell = host.run(command)
        by_exec = lab.exec("server", ["/bin/sh", "-c", command])
        assert (through_shell.rc, through_shell.stdout, through_shell.stderr) == \
               (by_exec.rc, by_exec.stdout, by_exec.stderr), command
    assert not shell.closed, "a command fell back to an exec: the shell did not answer it"
    after = host.run("pwd; echo ${SOCKLAB_T:-unset}").stdout.split()
    assert after[0] != "/tmp" and after[1] == "unset", after   # no cd, no variable carried over
    # The shell killed from outside: the next command falls back to one exec and still answers.
    killed = lab.exec("server", ["pkill", "-o", "-x", "sh"])   # as its user: no capability to kill another user's
    assert killed.rc == 0, killed
    assert host.run("echo after").stdout == "after\n"
    assert shell.closed


def test_a_closed_shell_closes_its_http_response_too(engine, built_images):
    """The SDK keeps the response a shell's stream was hijacked from; left open, Python 3.13's
    collector later prints "Exception ignored ... I/O operation on closed file" (mid-grade)."""
    import gc
    import sys

    from lab.engines.attached_shell import AttachedShell

    with LabRun(engine, f"sc{secrets.token_hex(2)}", "shell-close") as lab:
        lab.create_network("lan")
        lab.start(HostSpec("box", APPS_IMAGE, ("sleep", "infinity"), "service", ("lan",)))
        container = engine.client.containers.get(f"socklab-{lab.identity.run_id}-box")
        shell = AttachedShell(engine.client.api, container.id)
        assert shell.run("echo hi")[:2] == (0, b"hi\n")
        response = shell._socket._response
        unraisable: list[object] = []
        previous, sys.unraisablehook = sys.unraisablehook, unraisable.append
        try:
            shell.close()
            del shell
            gc.collect()
        finally:
            sys.unraisablehook = previous
        assert response.raw.closed, "the response the stream came from is still open"
        assert not unraisable, [getattr(u, "exc_value", u) for u in unraisable]
