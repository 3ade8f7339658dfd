#!/usr/bin/env python3
"""Warm `invoke scenario udp-echo` wall time against the same exchange done with the docker CLI
(the baseline is described in bench/echo_baseline.py).

    .venv/bin/python bench/udp_echo_vs_docker.py [--runs 7]
"""
from __future__ import annotations

from echo_baseline import PROGRAMS, compare

# The client retries until the server answers: each try waits 0.2 s for the reply.
RETRYING_CLIENT = (
    "import subprocess, sys\n"
    "for attempt in range(100):\n"
    f"    done = subprocess.run([sys.executable, '{PROGRAMS}/udp_client.py', '--host', 'server',\n"
    "                           '--message', 'hello', '--timeout', '0.2'], capture_output=True, text=True)\n"
    "    if done.returncode == 0:\n"
    "        print(done.stdout); break\n"
    "else:\n"
    "    sys.exit('no reply')\n"
)

if __name__ == "__main__":
    compare("udp-echo", "udp_server.py", RETRYING_CLIENT, "SEQ=1 HELLO", __doc__.splitlines()[0])
