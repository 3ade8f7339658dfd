#!/usr/bin/env python3
"""Warm `invoke scenario tcp-echo` wall time against the same exchange done with the docker CLI
(the baseline is described in bench/echo_baseline.py; the client retries until it connects and
gets its reply, no polling of the server's logs).

    .venv/bin/python bench/scenario_vs_docker.py [--runs 7]
"""
from __future__ import annotations

from echo_baseline import PROGRAMS, compare

# The client retries until the server accepts: a refused connect() is retried after 50 ms.
RETRYING_CLIENT = (
    "import subprocess, sys, time\n"
    "for attempt in range(200):\n"
    f"    done = subprocess.run([sys.executable, '{PROGRAMS}/tcp_client.py', '--host', 'server',\n"
    "                           '--message', 'hello'], capture_output=True, text=True)\n"
    "    if done.returncode == 0:\n"
    "        print(done.stdout); break\n"
    "    time.sleep(0.05)\n"
    "else:\n"
    "    sys.exit('no reply')\n"
)

if __name__ == "__main__":
    compare("tcp-echo", "tcp_server.py", RETRYING_CLIENT, "HELLO", __doc__.splitlines()[0])
