"""Run the plan inside the VM (python3 stdlib only) and report each case on the serial console.

For every case: two fresh network namespaces A and B joined by a veth pair; inside A the case's
commands, its verify commands and `tc qdisc show`; a UDP echo probe from A to B and back, then
each namespace's Ip and Udp counters (/proc/net/snmp, per namespace, so they count this probe
only: e.g. B's Udp InDatagrams is what the echo server received, duplicates included); the
case's cleanup commands and `tc qdisc show` again; then both namespaces are deleted, so no case
sees another's qdiscs. A failed command does not stop the case: the host judges every result.

Each case's report is one line: RESULT_BEGIN + JSON + RESULT_END.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback

RESULT_BEGIN = "@@SOCKLAB-RESULT@@"
RESULT_END = "@@END@@"
HERE = os.path.dirname(os.path.abspath(__file__))
ADDR_A, ADDR_B, PORT = "192.0.2.1", "192.0.2.2", 7007  # RFC 5737 range, inside the VM only
MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


def run(argv: list[str], timeout: float = 30, limit: int | None = 2000) -> dict:
    """Run `argv`; its rc and (the last `limit` characters of) its stdout and stderr."""
    start = time.monotonic()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    except FileNotFoundError as exc:
        rc, out, err = 127, "", str(exc)
    except subprocess.TimeoutExpired:
        rc, out, err = 124, "", f"timed out after {timeout}s"
    keep = slice(-limit if limit else None, None)
    return {"argv": argv, "rc": rc, "stdout": out[keep], "stderr": err[keep],
            "seconds": round(time.monotonic() - start, 3)}


def in_a(argv: list[str]) -> dict:
    return run(["ip", "netns", "exec", "a", *argv])


def must(argv: list[str]) -> None:
    result = run(argv)
    if result["rc"] != 0:
        raise RuntimeError(f"setup step failed: {result}")


def setup(plan: dict) -> None:
    if_a, if_b = plan["iface_a"], plan["iface_b"]
    for ns in ("a", "b"):
        must(["ip", "netns", "add", ns])
        must(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"])
        for knob in ("all", "default"):
            must(["ip", "netns", "exec", ns, "sh", "-c",
                  f"echo 1 > /proc/sys/net/ipv6/conf/{knob}/disable_ipv6"])
    must(["ip", "link", "add", if_a, "netns", "a", "address", MAC_A,
          "type", "veth", "peer", "name", if_b, "netns", "b", "address", MAC_B])
    for ns, dev, addr, peer_addr, peer_mac in (("a", if_a, ADDR_A, ADDR_B, MAC_B),
                                               ("b", if_b, ADDR_B, ADDR_A, MAC_A)):
        must(["ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev])
        must(["ip", "-n", ns, "link", "set", dev, "up"])
        # Static neighbours: no ARP exchange that an impairment could delay or drop.
        must(["ip", "-n", ns, "neigh", "replace", peer_addr, "lladdr", peer_mac,
              "nud", "permanent", "dev", dev])


def teardown() -> None:
    for ns in ("a", "b"):
        run(["ip", "netns", "del", ns])


def probe(spec: dict) -> dict:
    measure = os.path.join(HERE, "measure.py")
    server = subprocess.Popen(["ip", "netns", "exec", "b", sys.executable, measure, "serve",
                               ADDR_B, str(PORT)], stdout=subprocess.PIPE, text=True)
    try:
        if server.stdout.readline().strip() != "READY":
            raise RuntimeError("echo server did not start")
        client = run(["ip", "netns", "exec", "a", sys.executable, measure, "client", ADDR_B,
                      str(PORT), str(spec["count"]), str(spec["interval_ms"]),
                      str(spec["drain_s"]), str(spec.get("payload", 64))], timeout=600,
                     limit=None)  # the JSON line holds every RTT
        if client["rc"] != 0:
            raise RuntimeError(f"probe client failed: {client}")
        return json.loads(client["stdout"].strip().splitlines()[-1])
    finally:
        server.kill()
        server.wait()


def snmp(ns: str) -> dict:
    """The Ip and Udp counters of namespace `ns`: {"Udp": {"InDatagrams": 12, ...}, ...}."""
    text = run(["ip", "netns", "exec", ns, "cat", "/proc/net/snmp"])["stdout"]
    counters: dict = {}
    lines = text.splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        group, _, keys = names.partition(":")
        if group in ("Ip", "Udp") and values.startswith(group + ":"):
            counters[group] = dict(zip(keys.split(), map(int, values.split(":", 1)[1].split())))
    return counters


def run_case(plan: dict, case: dict) -> dict:
    report: dict = {"case": case["name"]}
    start = time.monotonic()
    try:
        setup(plan)
        report["commands"] = [in_a(argv) for argv in case["commands"]]
        report["verify"] = [in_a(argv) for argv in case.get("verify", [])]
        report["qdisc"] = in_a(["tc", "qdisc", "show"])["stdout"]
        if case.get("probe"):
            report["probe"] = probe(case["probe"])
            report["snmp"] = {ns: snmp(ns) for ns in ("a", "b")}
        report["cleanup"] = [in_a(argv) for argv in case.get("cleanup", [])]
        report["qdisc_after_cleanup"] = in_a(["tc", "qdisc", "show"])["stdout"]
        report["links_after_cleanup"] = in_a(["ip", "-o", "link", "show"])["stdout"]
    except Exception:  # noqa: BLE001 - reported to the host, which fails the case
        report["error"] = traceback.format_exc()
    finally:
        teardown()
    report["seconds"] = round(time.monotonic() - start, 3)
    return report


def main(path: str) -> int:
    with open(path) as fh:
        plan = json.load(fh)
    uname = os.uname()
    print(f"{RESULT_BEGIN}{json.dumps({'case': '_guest', 'kernel': uname.release})}{RESULT_END}",
          flush=True)
    for case in plan["cases"]:
        report = run_case(plan, case)
        print(f"{RESULT_BEGIN}{json.dumps(report)}{RESULT_END}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
