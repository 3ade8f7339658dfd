"""The client agent of a grade's kept hosts (images/apps/programs/client_agent.py) on loopback: a
lab client forked by the agent gives what the same client started as a program gives."""
from __future__ import annotations

import json
import subprocess

from tests.programs.test_socket_programs import LOOPBACK, PROGRAMS, command, only, parse_events
from tests.programs.test_socket_programs import start_server  # noqa: F401 - the fixture

MARK = "socklab-agent "


def ask(agent: subprocess.Popen, argv: list[str]) -> dict:
    agent.stdin.write(json.dumps({"argv": argv}) + "\n")
    agent.stdin.flush()
    line = agent.stdout.readline()
    assert line.startswith(MARK), line
    return json.loads(line[len(MARK):])


def test_the_agent_runs_a_lab_client_as_the_program_would_and_nothing_else(start_server, tmp_path):
    server = start_server("udp_server.py", "udp-server")
    port = server.listening_port()
    agent = subprocess.Popen(command("client_agent.py"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, cwd=tmp_path)
    try:
        client = str(PROGRAMS / "udp_client.py")
        args = ["--host", LOOPBACK, "--port", str(port), "--message", "hello", "--count", "3", "--timeout", "2"]
        for _ in range(2):   # each request is a fresh process: its own socket, its own events
            answer = ask(agent, ["python3", client, *args])
            direct = subprocess.run(command("udp_client.py", *args), capture_output=True, text=True, timeout=20)
            assert answer["rc"] == direct.returncode == 0
            forked, started = parse_events(answer["stdout"], "udp-client"), parse_events(direct.stdout, "udp-client")
            assert [e["event"] for e in forked] == [e["event"] for e in started]
            assert [r["text"] for r in only(forked, "received")] == ["SEQ=1 HELLO", "SEQ=2 HELLO", "SEQ=3 HELLO"]
        bad = ask(agent, ["python3", client, "--no-such-option"])
        direct = subprocess.run(command("udp_client.py", "--no-such-option"), capture_output=True, text=True)
        assert bad["rc"] == direct.returncode == 2 and bad["stderr"] == direct.stderr
        refused = ask(agent, ["python3", "-c", "print('not a lab client')"])
        assert refused["rc"] == 127 and refused["stdout"] == ""
        assert ask(agent, ["sh", "-c", "true"])["rc"] == 127
    finally:
        agent.stdin.close()
        assert agent.wait(timeout=10) == 0   # its stdin closed: the agent ends
        agent.stdout.close()

