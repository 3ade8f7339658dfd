"""`invoke shell` on a lab kept with --keep: the real engine, the real docker CLI."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def invoke(*args: str, stdin: str = "", timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True, timeout=timeout, env=os.environ.copy())


def test_shell_on_a_kept_lab_runs_as_student_and_sees_the_servers_socket(engine, built_images, no_leftovers):
    kept = invoke("scenario", "udp-echo", "--keep")
    found = re.search(r"invoke shell server --run ([0-9a-f]+)", " ".join(kept.stdout.split()))
    assert kept.returncode == 0 and found, kept.stdout + kept.stderr
    run_id = found.group(1)
    try:
        # Without --run: this session's only lab. Commands come on stdin (no terminal here).
        opened = invoke("shell", "server", stdin="id -un; ss -Hlun; exit 7\n")
        assert opened.returncode == 7, opened.stdout + opened.stderr
        assert "student" in opened.stdout and ":12000" in opened.stdout
        opened = invoke("shell", "client", "--run", run_id, stdin="hostname\n")
        assert opened.returncode == 0 and opened.stdout.strip().endswith("client"), opened.stdout
        bad_host = invoke("shell", "router", "--run", run_id)
        assert bad_host.returncode == 2 and "its hosts: client, server" in bad_host.stderr
        bad_run = invoke("shell", "server", "--run", "nosuch")
        assert bad_run.returncode == 2 and run_id in bad_run.stderr
    finally:
        cleaned = invoke("clean", "--run", run_id)
        assert cleaned.returncode == 0, cleaned.stderr


def test_shell_without_a_kept_lab_exits_2_and_says_how(engine, no_leftovers):
    result = invoke("shell", "server")
    assert result.returncode == 2 and "--keep" in result.stderr and "Traceback" not in result.stderr
