"""impaird on this machine's real kernel, without Docker: two network namespaces and a veth.

``sltest-a-<pid>`` (10.199.0.1) runs a tiny UDP echo server and impaird on its end of the veth;
``sltest-b-<pid>`` (10.199.0.2) runs the client. Only addresses inside these namespaces are used.
Everything created is removed at the end (namespaces, and with them the veth, rules and daemon),
and the tests check that ``impaird stop`` itself leaves no rule and no process behind.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.observe.stats import binomial_count_interval

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
IMPAIRD = ROOT / "images" / "tools" / "impaird.py"
SERVER_IP, CLIENT_IP, PORT = "10.199.0.1", "10.199.0.2", 9999


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces, iptables, NFQUEUE)"
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            return f"needs `{tool}` (apt-get install iproute2 iptables)"
    return None


if _skip_reason():
    pytest.skip(_skip_reason() or "", allow_module_level=True)

SERVER = textwrap.dedent(f"""
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("{SERVER_IP}", {PORT}))
    while True:
        data, peer = s.recvfrom(4096)
        try:
            s.sendto(data, peer)
        except OSError as exc:  # an impairment must never make the server fail
            print("sendto failed:", exc, flush=True)
""")

# burst: send N numbered datagrams `gap` apart while a thread counts the replies and notes the
# order in which they arrive.
# pingpong: N sequential round trips, RTT of each in ms.
CLIENT = textwrap.dedent(f"""
    import json, socket, sys, threading, time
    mode, n, gap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.connect(("{SERVER_IP}", {PORT}))
    if mode == "pingpong":
        s.settimeout(1.0)
        rtts = []
        for i in range(n):
            start = time.monotonic()
            s.send(i.to_bytes(4, "big"))
            try:
                while int.from_bytes(s.recv(4096)[:4], "big") != i:
                    pass
                rtts.append((time.monotonic() - start) * 1000)
            except socket.timeout:
                pass
        print(json.dumps({{"rtts_ms": rtts}}))
    else:
        received, order = {{}}, []
        def receive():
            s.settimeout(1.5)
            try:
                while True:
                    k = int.from_bytes(s.recv(4096)[:4], "big")
                    received[k] = received.get(k, 0) + 1
                    order.append(k)
            except socket.timeout:
                pass
        thread = threading.Thread(target=receive)
        thread.start()
        for i in range(n):
            s.send(i.to_bytes(4, "big") + bytes(60))
            time.sleep(gap)
        thread.join()
        print(json.dumps({{"received": received, "order": order}}))
""")


@dataclass
class Lab:
    a: str
    b: str
    run_dir: Path

    def in_a(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run(["ip", "netns", "exec", self.a, *argv], check=check)

    def impaird(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.in_a(sys.executable, str(IMPAIRD), "--run-dir", str(self.run_dir), *args,
                         check=check)

    def client(self, mode: str, n: int, gap: float = 0.0) -> dict[str, object]:
        out = _run(["ip", "netns", "exec", self.b, sys.executable, "-c", CLIENT, mode, str(n),
                    str(gap)], check=True, timeout=120).stdout
        return json.loads(out)

    def mangle_rules(self) -> str:
        return self.in_a("iptables", "-w", "-t", "mangle", "-S").stdout


def _run(argv: list[str], check: bool, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(argv[:8])}... rc {result.returncode}: {result.stderr}")
    return result


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    suffix = os.getpid()
    a, b = f"sltest-a-{suffix}", f"sltest-b-{suffix}"
    made: list[str] = []
    server = None
    try:
        for ns in (a, b):
            _run(["ip", "netns", "add", ns], check=True)
            made.append(ns)
        # the veth is created inside the namespaces: no name in the host's namespace
        _run(["ip", "-n", a, "link", "add", "veth0", "type", "veth", "peer", "name", "veth0",
              "netns", b], check=True)
        for ns, ip in ((a, SERVER_IP), (b, CLIENT_IP)):
            _run(["ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "veth0"], check=True)
            _run(["ip", "-n", ns, "link", "set", "veth0", "up"], check=True)
            _run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        server = subprocess.Popen(["ip", "netns", "exec", a, sys.executable, "-c", SERVER],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lab = Lab(a, b, tmp_path_factory.mktemp("impaird-run"))
        _wait_for_echo(lab)
        yield lab
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        for ns in made:
            _run(["ip", "netns", "del", ns], check=False)


def _wait_for_echo(lab: Lab) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if lab.client("pingpong", 1)["rtts_ms"]:
                return
        except AssertionError:  # not bound yet: the port-unreachable reply ends the client (ECONNREFUSED)
            time.sleep(0.05)
    raise AssertionError("the echo server in the test namespace does not answer")


@pytest.fixture
def impaired(lab: Lab) -> Iterator[Lab]:
    """Whatever a test starts on queue 7 is stopped afterwards, even if the test failed."""
    yield lab
    lab.impaird("stop", "--queue", "7", check=False)


def start(lab: Lab, **spec: object) -> int:
    """Start impaird on queue 7 and return its pid."""
    spec.setdefault("interface", "veth0")
    lab.impaird("start", "--queue", "7", "--spec", json.dumps(spec))
    status = json.loads(lab.impaird("status", "--queue", "7").stdout)
    assert status["in_force"] and status["reason"] is None, status
    return int((lab.run_dir / "impaird-7.pid").read_text())


def final_counters(lab: Lab, pid: int) -> dict[str, int]:
    """Stop the daemon ``pid`` and return the counters it wrote on its way out.

    While running, the status file is a snapshot rewritten every 0.5 s; the daemon writes it a
    last time (``running: false``) after it has given every held packet its verdict, and ``stop``
    returns only after that.
    """
    lab.impaird("stop", "--queue", "7")
    status = json.loads((lab.run_dir / "impaird-7.json").read_text())
    assert status["pid"] == pid and status["running"] is False, status
    return status["counters"]


def lost_ids(lab: Lab, n: int) -> set[int]:
    received = lab.client("burst", n, 0.002)["received"]
    assert isinstance(received, dict)
    return set(range(n)) - {int(k) for k in received}


def test_seeded_egress_loss_is_exact_and_within_binomial_count_interval(impaired: Lab) -> None:
    sys.path.insert(0, str(IMPAIRD.parent))
    try:
        import impaird  # the daemon module, loaded from the tools image folder
    finally:
        sys.path.pop(0)
    n, seed = 500, 2024
    start(impaired, loss_pct=20, seed=seed)
    lost = lost_ids(impaired, n)
    low, high = binomial_count_interval(n, 0.2, 0.99)
    print(f"seeded egress loss: {len(lost)}/{n} lost; 99% interval [{low}, {high}]")
    assert low <= len(lost) <= high
    decider = impaird.Decider(impaird.Spec(loss_pct=20, seed=seed))
    predicted = {k for k in range(n) if decider.decide(0.0, 64).drop}
    assert lost == predicted  # the seed reproduces exactly which replies are lost


def test_unseeded_ingress_loss_uses_kernel_rule(impaired: Lab) -> None:
    n = 500
    start(impaired, loss_pct=20, direction="ingress")
    assert "statistic --mode random --probability 0.2" in impaired.mangle_rules()
    lost = lost_ids(impaired, n)
    # unseeded, so random: the 99.9% interval keeps this test's false-alarm rate at 1/1000
    low, high = binomial_count_interval(n, 0.2, 0.999)
    status = json.loads(impaired.impaird("status", "--queue", "7").stdout)
    print(f"kernel ingress loss: {len(lost)}/{n} lost; counters {status['counters']}")
    assert status["mode"] == "kernel"
    assert status["counters"]["dropped"] == len(lost)
    assert low <= len(lost) <= high


def test_delay_adds_50ms_to_rtt(impaired: Lab) -> None:
    base = statistics.median(impaired.client("pingpong", 50)["rtts_ms"])  # type: ignore[arg-type]
    start(impaired, delay_ms=50)
    rtts = impaired.client("pingpong", 50)["rtts_ms"]
    assert isinstance(rtts, list) and len(rtts) == 50
    p50 = statistics.median(rtts)
    print(f"delay 50ms: base p50 {base:.2f} ms, impaired p50 {p50:.2f} ms")
    assert abs(p50 - (50 + base)) <= 5


def test_jitter_reorders_and_spreads(impaired: Lab) -> None:
    start(impaired, delay_ms=30, jitter_ms=10, distribution="normal", seed=1)
    rtts = impaired.client("pingpong", 60)["rtts_ms"]
    assert isinstance(rtts, list)
    spread = statistics.pstdev(rtts)
    print(f"jitter normal 30+-10ms: p50 {statistics.median(rtts):.1f} ms, sd {spread:.1f} ms")
    assert 5 <= spread <= 15
    # replies 2 ms apart, each delayed by its own normal(30, 10) ms draw, overtake one another
    # (as with netem): with this seed's draws and exact 2 ms gaps, 46 of 99 neighbours in arrival
    # order are out of sequence. A FIFO release would give 0.
    n = 100
    burst = impaired.client("burst", n, 0.002)
    order = burst["order"]
    assert isinstance(order, list) and sorted(order) == list(range(n))  # all, once each
    out_of_order = sum(a > b for a, b in zip(order, order[1:]))
    print(f"jitter normal 30+-10ms: {out_of_order}/{n - 1} replies arrived before their predecessor")
    assert out_of_order >= 10


def test_seeded_duplicates_arrive(impaired: Lab) -> None:
    n = 300
    pid = start(impaired, duplicate_pct=20, seed=5)
    received = impaired.client("burst", n, 0.002)["received"]
    assert isinstance(received, dict)
    duplicates = sum(count - 1 for count in received.values())
    counters = final_counters(impaired, pid)
    print(f"duplicate 20%: {duplicates} duplicates received of {n}; counters {counters}")
    assert len(received) == n
    assert duplicates == counters["duplicated"]
    low, high = binomial_count_interval(n, 0.2, 0.999)
    assert low <= duplicates <= high


def test_corrupted_datagrams_fail_the_checksum(impaired: Lab) -> None:
    n = 200
    pid = start(impaired, corrupt_pct=30, seed=9)
    received = impaired.client("burst", n, 0.002)["received"]
    assert isinstance(received, dict)
    counters = final_counters(impaired, pid)
    corrupted = counters["corrupted"]
    print(f"corrupt 30%: {corrupted} corrupted, {len(received)}/{n} replies accepted by the client; "
          f"counters {counters}")
    assert counters["seen"] == counters["accepted"] == n  # every reply queued, none dropped
    low, high = binomial_count_interval(n, 0.3, 0.999)
    assert low <= corrupted <= high
    # a flipped bit past the IP header breaks the UDP checksum, and veth leaves the checksum to
    # the receiver, whose kernel drops the datagram: exactly the corrupted replies go missing.
    # (An unmodified "corrupted" packet, or a driver vouching for checksums, would fail this.)
    assert len(received) == n - corrupted


def test_refuses_an_interface_that_does_not_exist(impaired: Lab) -> None:
    spec = json.dumps({"interface": "nosuch0", "delay_ms": 10})
    # `impaired`: a daemon that wrongly started is stopped after the test
    result = impaired.impaird("start", "--queue", "7", "--spec", spec, check=False)
    assert result.returncode == 1, result
    assert "'nosuch0' does not exist" in result.stderr
    assert "interfaces here: lo, veth0" in result.stderr  # what this namespace has
    assert "SOCKLAB" not in impaired.mangle_rules()
    assert not (impaired.run_dir / "impaird-7.pid").exists()
    assert impaired.impaird("status", "--queue", "7", check=False).returncode == 1


def test_status_not_in_force_when_the_interface_goes(impaired: Lab) -> None:
    _run(["ip", "-n", impaired.a, "link", "add", "slgone0", "type", "veth", "peer", "name",
          "slgone1"], check=True)
    try:
        start(impaired, interface="slgone0", delay_ms=10)  # asserts in_force
    finally:
        _run(["ip", "-n", impaired.a, "link", "del", "slgone0"], check=False)  # takes slgone1
    result = impaired.impaird("status", "--queue", "7", check=False)
    status = json.loads(result.stdout)
    assert result.returncode == 1
    assert status["alive"] and status["rules_present"]  # iptables still matches the name
    assert not status["in_force"] and not status["interface_present"]
    assert "'slgone0' does not exist" in status["reason"]


def test_stop_removes_rules_and_daemon(lab: Lab) -> None:
    start(lab, delay_ms=10, direction="both")
    pid = int((lab.run_dir / "impaird-7.pid").read_text())
    assert "SOCKLAB-7" in lab.mangle_rules()
    lab.impaird("stop", "--queue", "7")
    assert "SOCKLAB" not in lab.mangle_rules()
    assert not Path(f"/proc/{pid}").exists() or "Z" in _proc_state(pid)
    assert not (lab.run_dir / "impaird-7.pid").exists()
    gone = lab.impaird("status", "--queue", "7", check=False)
    assert gone.returncode == 1 and not json.loads(gone.stdout)["in_force"]
    assert lab.client("pingpong", 5)["rtts_ms"]  # traffic flows again
    lab.impaird("stop", "--queue", "7")  # stopping twice is fine


def test_start_twice_replaces(impaired: Lab) -> None:
    start(impaired, delay_ms=10)
    start(impaired, delay_ms=20)
    assert impaired.mangle_rules().count("-j SOCKLAB-7") == 1
    status = json.loads(impaired.impaird("status", "--queue", "7").stdout)
    assert status["spec"]["delay_ms"] == 20


def test_probe_binds_a_queue(lab: Lab) -> None:
    assert lab.impaird("--probe").returncode == 0


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_keeps_up_with_1000_packets_per_second(impaired: Lab) -> None:
    n = 3000
    start(impaired, delay_ms=20, jitter_ms=5, seed=3)
    began = time.monotonic()
    received = impaired.client("burst", n, 0.0005)["received"]
    elapsed = time.monotonic() - began - 1.5  # the client waits 1.5 s for stragglers
    assert isinstance(received, dict)
    status = json.loads(impaired.impaird("status", "--queue", "7").stdout)
    print(f"rate test: {len(received)}/{n} in {elapsed:.2f} s ({n / elapsed:.0f} pkt/s offered); "
          f"counters {status['counters']}")
    assert len(received) == n
