"""The netem backend against a real kernel that has sch_netem: Debian's stock kernel in qemu.

The CI machine's own kernel has no sch_netem, so the commands that `NetemBackend` generates are
run inside a VM (see tests/netem_vm/): for each spec, in fresh namespaces A and B joined by a veth,
the apply commands run twice in A (the second time proves `replace` is idempotent), then the
backend's own verify commands, a UDP echo probe A → B → A, and the clear commands.

The VM boots once per session and runs every case in sequence. A machine that cannot get qemu or
the kernel package (Debian's, so a non-Debian host never can) skips these tests with the reason
when its own kernel has sch_netem, even under CI=true: there the real-engine integration test
(tests/integration/test_impairment_scenarios.py::test_netem_backend_on_the_real_engine) exercises
netem for real. Without sch_netem on the host it skips outside CI and FAILS under CI=true, since
this VM is then the only place netem gets tested.

Every netem option is covered: delay (per direction), jitter (uniform and the `normal` table),
loss, reorder, duplicate, corrupt and rate, each measured against what netem does with it.

Run: `.venv/bin/pytest -m vm tests/test_netem_vm.py` (root; about 65 s after a first build).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from lab.impairment.command import Command, CommandResult
from lab.impairment.netem import NetemBackend, ifb_name
from lab.impairment.spec import Impairment, parse_impairment
from lab.observe.stats import binomial_count_interval

from tests.netem_vm.build import VmUnavailable, build_image, cache_root, distribution_id
from tests.netem_vm.vm import IFACE_A, Case, Probe, VmRun, qemu_binary, run_cases

pytestmark = pytest.mark.vm

BASE = "base"
#: case name → (user fields as a scenario would give them, probe)
SPECS: dict[str, tuple[dict[str, str], Probe]] = {
    "egress-loss": ({"loss": "20%"}, Probe(count=400, interval_ms=5)),
    "egress-delay": ({"delay": "50ms"}, Probe(count=200, interval_ms=10)),
    "ingress-delay-loss": ({"delay": "50ms", "loss": "20%", "direction": "ingress"},
                           Probe(count=400, interval_ms=5)),
    "both-delay": ({"delay": "25ms", "direction": "both"}, Probe(count=200, interval_ms=10)),
    "egress-delay-jitter-loss": ({"delay": "40ms", "jitter": "5ms", "loss": "10%"},
                                 Probe(count=400, interval_ms=5)),
    # Probes every 5 ms, half the delay: a reply sent without the delay overtakes its
    # predecessor whenever that one was delayed, so reordering shows in the arrival order too.
    "egress-delay-reorder": ({"delay": "10ms", "reorder": "25%"}, Probe(count=400, interval_ms=5)),
    "egress-duplicate": ({"duplicate": "20%"}, Probe(count=400, interval_ms=5)),
    # 1000-byte payloads: a flipped bit then lands in the UDP header or payload 97% of the time.
    "egress-corrupt": ({"corrupt": "30%"}, Probe(count=400, interval_ms=5, payload=1000)),
    # 1042-byte frames at 1 Mbit/s take 8.3 ms each; probes 20 ms apart never queue.
    "egress-rate": ({"rate": "1mbit"}, Probe(count=100, interval_ms=20, payload=1000)),
    "egress-delay-jitter-normal": ({"delay": "40ms", "jitter": "5ms", "distribution": "normal"},
                                   Probe(count=400, interval_ms=5)),
}
CONFIDENCE = 0.999  # seven binomial checks per run, netem unseedable here: keep chance failures ~0.7%
P50_TOLERANCE_MS = 2.0
VM_TIMEOUT_S = 600
#: bytes a probe datagram occupies on the veth (what netem's rate and corrupt act on): Ethernet
#: header 14, IPv4 header 20, UDP header 8, then the payload
ETH_HEADER, IP_HEADER, UDP_HEADER = 14, 20, 8
#: p5..p95 of the added delay, in units of jitter: uniform on [-j, j] spans 0.9 * 2j; netem's
#: normal table has sigma = jitter, so 2 * 1.645 sigma
SPREAD_P5_P95 = {"uniform": 1.8, "normal": 3.29}
#: tc's distribution tables hold values up to 32767/8192 ~ 4 sigma: no delay goes further
TABLE_REACH = 4


def binomial_interval(n: int, p: float, confidence: float = CONFIDENCE) -> tuple[int, int]:
    """Exact central interval of a Binomial(n, p) count, at this test's confidence."""
    return binomial_count_interval(n, p, confidence)


def _argv(command: Command | Sequence[str]) -> list[str]:
    return list(command.argv) if hasattr(command, "argv") else list(command)


def _as_command(command: Command | Sequence[str]) -> Command:
    return command if isinstance(command, Command) else Command(list(command))


def spec_for(name: str) -> Impairment:
    return parse_impairment({**SPECS[name][0], "interface": IFACE_A})


def host_kernel_has_netem() -> bool:
    """True if the kernel this machine runs has sch_netem (no Docker, nothing left behind).

    Cheapest first: the module is loaded (/sys/module/sch_netem), built in (modules.builtin), or
    available to load (`modprobe -n -q sch_netem`, a dry run). Failing those, and as root only,
    try it: a throw-away namespace `slvm-probe-<pid>` gets a netem qdisc on its loopback, and the
    namespace (qdisc with it) is deleted whatever happened.
    """
    if Path("/sys/module/sch_netem").exists():
        return True
    release = os.uname().release
    for modules in (Path("/lib/modules") / release, Path("/usr/lib/modules") / release):
        try:
            if "/sch_netem.ko" in (modules / "modules.builtin").read_text():
                return True
        except OSError:
            pass

    def ok(*argv: str) -> bool:
        try:
            return subprocess.run(argv, capture_output=True, timeout=10, check=False).returncode == 0
        except (OSError, subprocess.SubprocessError):
            return False

    if shutil.which("modprobe") and ok("modprobe", "-n", "-q", "sch_netem"):
        return True
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("tc"):
        return False
    netns = f"slvm-probe-{os.getpid()}"
    if not ok("ip", "netns", "add", netns):
        return False
    try:
        return ok("ip", "netns", "exec", netns, "tc", "qdisc", "add", "dev", "lo", "root",
                  "netem", "delay", "1ms")
    finally:
        ok("ip", "netns", "del", netns)


def _plan() -> list[Case]:
    backend = NetemBackend()
    cases = [Case(BASE, probe=Probe(count=200, interval_ms=10))]
    for name, (_, probe) in SPECS.items():
        spec = spec_for(name)
        apply = [_argv(c) for c in backend.apply_commands(spec)]
        cases.append(Case(name, commands=apply + apply,
                          verify=[_argv(c) for c in backend.verify_commands(spec)],
                          cleanup=[_argv(c) for c in backend.clear_commands(spec)],
                          probe=probe))
    return cases


def why_vm_cannot_run(uid: int | None = None, machine: str | None = None,
                      has_apt: bool | None = None, distribution: str | None = None) -> str | None:
    """Why this machine can never run the VM test (None: it can), the same rule as ./bootstrap's
    (which installs qemu only where this returns None): root for mmdebstrap and the namespaces,
    apt to fetch the guest, x86_64 for qemu-system-x86, Debian because the guest is Debian's kernel."""
    uid = os.geteuid() if uid is None else uid
    machine = os.uname().machine if machine is None else machine
    has_apt = shutil.which("apt-get") is not None if has_apt is None else has_apt
    distribution = distribution_id() if distribution is None else distribution
    if uid != 0:
        return "not root"
    if not has_apt:
        return "no apt"
    if machine != "x86_64":
        return f"{machine} is not x86_64"
    if distribution != "debian":
        return f"the guest kernel is Debian's, fetched with a Debian host's apt (this is {distribution or 'unknown'})"
    return None


@pytest.fixture(scope="session")
def vm_run() -> VmRun:
    """One boot for the whole session; every case's report, keyed by case name.

    Where the VM can never run (see why_vm_cannot_run) it skips with the reason, under CI=true
    too; where it should run but cannot be had, CI=true fails (unless the host has sch_netem)."""
    reason = why_vm_cannot_run()
    if reason:
        pytest.skip(f"netem VM test cannot run on this machine: {reason}")
    try:
        qemu_binary()
        image = build_image()
    except VmUnavailable as exc:
        if host_kernel_has_netem():
            pytest.skip(f"netem VM unavailable ({exc}), but this host's kernel has sch_netem: "
                        "tests/integration/test_impairment_scenarios.py::"
                        "test_netem_backend_on_the_real_engine exercises netem for real")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true, this host's kernel has no sch_netem, and the netem VM cannot "
                        f"be had: {exc}")
        pytest.skip(f"netem VM unavailable: {exc}")
    run = run_cases(image, _plan(), timeout=VM_TIMEOUT_S)
    # Kept for whoever debugs a failure (CI can archive the folder).
    out = cache_root()
    (out / "last-console.log").write_text(run.console)
    (out / "last-reports.json").write_text(json.dumps(run.reports, indent=1))
    return run


def _probe(run: VmRun, name: str) -> dict:
    report = run.report(name)
    assert "error" not in report, report["error"]
    assert report.get("probe"), f"{name}: no probe result (commands failed?): {report}"
    return report["probe"]


def _udp(run: VmRun, name: str, ns: str) -> dict[str, int]:
    """Udp counters of namespace `ns` ("a": the client's, "b": the echo server's) after the probe."""
    return run.report(name)["snmp"][ns]["Udp"]


def _frame_bytes(name: str) -> int:
    return ETH_HEADER + IP_HEADER + UDP_HEADER + SPECS[name][1].payload


def _results(raw: list[dict]) -> list[CommandResult]:
    return [CommandResult(r["rc"], r["stdout"], r["stderr"]) for r in raw]


@pytest.mark.parametrize("facts, reason", [
    ({"uid": 0, "machine": "x86_64", "has_apt": True, "distribution": "debian"}, None),
    ({"uid": 1000, "machine": "x86_64", "has_apt": True, "distribution": "debian"}, "not root"),
    ({"uid": 0, "machine": "x86_64", "has_apt": False, "distribution": "fedora"}, "no apt"),
    ({"uid": 0, "machine": "aarch64", "has_apt": True, "distribution": "debian"}, "aarch64 is not x86_64"),
    ({"uid": 0, "machine": "x86_64", "has_apt": True, "distribution": "ubuntu"}, "this is ubuntu"),
])
def test_where_the_vm_can_run(facts, reason):
    """The rule that decides skip (any machine) versus fail (CI=true), as ./bootstrap decides
    whether to install qemu (tests/unit/test_bootstrap.py checks the same cases there)."""
    got = why_vm_cannot_run(**facts)
    assert got == reason if reason is None else reason in got


def test_vm_boots_stock_kernel_and_powers_off(vm_run: VmRun) -> None:
    assert vm_run.guest_kernel, f"no guest banner; console tail:\n{vm_run.console[-3000:]}"
    assert vm_run.returncode == 0, f"qemu exit {vm_run.returncode}:\n{vm_run.console[-3000:]}"


def test_base_rtt_is_measurable(vm_run: VmRun) -> None:
    probe = _probe(vm_run, BASE)
    assert probe["received"] == probe["sent"], f"loss without impairment: {probe}"
    assert probe["rtt_ms"]["p50"] < 10, f"base RTT too noisy to judge delays: {probe}"


@pytest.mark.parametrize("name", list(SPECS))
def test_kernel_accepts_apply_commands(vm_run: VmRun, name: str) -> None:
    """First apply: every checked command exits 0. Second apply on top of it: every checked
    command succeeds or fails only as the backend declares harmless (`tolerate`, e.g. the IFB
    device that already exists), so applying twice is safe."""
    report = vm_run.report(name)
    assert "error" not in report, report["error"]
    commands = [_as_command(c) for c in NetemBackend().apply_commands(spec_for(name))]
    assert len(report["commands"]) == 2 * len(commands)
    first, second = report["commands"][:len(commands)], report["commands"][len(commands):]
    for command, result, again in zip(commands, first, second, strict=True):
        if command.check:
            assert result["rc"] == 0, f"{name}: `{command}` → rc {result['rc']}: {result['stderr']}"
            assert command.accepts(CommandResult(again["rc"], again["stdout"], again["stderr"])), (
                f"{name}: `{command}` applied again → rc {again['rc']}: {again['stderr']}")


@pytest.mark.parametrize("name", list(SPECS))
def test_kernel_reports_spec_in_force(vm_run: VmRun, name: str) -> None:
    """`tc qdisc show` lists netem, and the backend's own verify() agrees with the kernel."""
    report = vm_run.report(name)
    spec = spec_for(name)
    assert "qdisc netem" in report["qdisc"], report["qdisc"]
    if spec.ingress:
        assert f"dev {ifb_name(IFACE_A)} root" in report["qdisc"], report["qdisc"]
    NetemBackend().verify(spec, _results(report["verify"]))


@pytest.mark.parametrize("name", list(SPECS))
def test_clear_commands_remove_everything(vm_run: VmRun, name: str) -> None:
    report = vm_run.report(name)
    assert "netem" not in report["qdisc_after_cleanup"], report["qdisc_after_cleanup"]
    assert "ingress" not in report["qdisc_after_cleanup"], report["qdisc_after_cleanup"]
    assert ifb_name(IFACE_A) not in report["links_after_cleanup"], report["links_after_cleanup"]


@pytest.mark.parametrize("name", [n for n in SPECS if spec_for(n).loss_pct])
def test_measured_loss_matches(vm_run: VmRun, name: str) -> None:
    probe, spec = _probe(vm_run, name), spec_for(name)
    keep = (1 - spec.loss_pct / 100) ** (int(spec.egress) + int(spec.ingress))
    lo, hi = binomial_interval(probe["sent"], 1 - keep)
    lost = probe["sent"] - probe["received"]
    assert lo <= lost <= hi, (f"{name}: lost {lost}/{probe['sent']}, {CONFIDENCE:.0%} interval "
                              f"for {1 - keep:.1%} is [{lo}, {hi}]")


@pytest.mark.parametrize("name", [n for n in SPECS if spec_for(n).delay_ms])
def test_measured_delay_matches(vm_run: VmRun, name: str) -> None:
    """RTT p50 = base p50 + the delay added per impaired direction, within ±2 ms."""
    base, probe, spec = _probe(vm_run, BASE)["rtt_ms"], _probe(vm_run, name), spec_for(name)
    rtt = probe["rtt_ms"]
    added = spec.delay_ms * (int(spec.egress) + int(spec.ingress))
    want = base["p50"] + added
    assert abs(rtt["p50"] - want) <= P50_TOLERANCE_MS, (
        f"{name}: RTT p50 {rtt['p50']:.2f} ms, want {want:.2f} ± {P50_TOLERANCE_MS} "
        f"(base {base['p50']:.2f} + {added:g}); {rtt}")
    distribution = spec.distribution or "uniform"
    if not spec.reorder_pct:  # a reordered packet skips the delay: test_reorder_sends_some_early
        # netem never sends early: nothing returns faster than the smallest possible added delay
        # (delay - jitter for uniform, delay - 4 sigma for a table).
        reach = spec.jitter_ms * (1 if distribution == "uniform" else TABLE_REACH)
        assert rtt["min"] >= added - reach, f"{name}: {rtt}"
    if spec.jitter_ms and distribution in SPREAD_P5_P95:
        # The two ranges do not overlap for the same jitter, so this tells normal from uniform.
        want = SPREAD_P5_P95[distribution] * spec.jitter_ms
        spread = rtt["p95"] - rtt["p5"]
        assert 0.8 * want <= spread <= 1.2 * want + 1, (
            f"{name}: p5..p95 {spread:.2f} ms, {distribution} ±{spec.jitter_ms:g} ms gives "
            f"about {want:.2f}; {rtt}")


def test_normal_distribution_reaches_beyond_jitter(vm_run: VmRun) -> None:
    """With the `normal` table, a delay can fall more than one jitter below the mean (a third of
    them do), which netem's default uniform never gives; and none beyond the table's 4 sigma."""
    name = "egress-delay-jitter-normal"
    base, probe, spec = _probe(vm_run, BASE)["rtt_ms"], _probe(vm_run, name), spec_for(name)
    assert probe["received"] == probe["sent"], probe
    added = [r - base["p50"] for r in probe["rtts_ms"]]
    below = sum(1 for d in added if d < spec.delay_ms - spec.jitter_ms)
    # P(Z < -1) = 15.9%; the interval is widened to 10%..22% for the base RTT's own noise
    assert 0.10 * len(added) <= below <= 0.22 * len(added), (
        f"{name}: {below}/{len(added)} delays below {spec.delay_ms - spec.jitter_ms:g} ms")
    assert min(added) >= spec.delay_ms - TABLE_REACH * spec.jitter_ms - P50_TOLERANCE_MS, added[:5]


def test_reorder_sends_some_early(vm_run: VmRun) -> None:
    """netem's reorder (tc adds `gap 1`): each packet, with the reorder probability, skips the
    delay and goes out at once, ahead of the delayed ones; the others get the full delay.

    So the share of replies back in about the base RTT (under half the delay) is binomial with
    the reorder probability, and with probes 5 ms apart and a 10 ms delay, early replies overtake
    earlier probes (the median RTT stays the delay's: test_measured_delay_matches)."""
    name = "egress-delay-reorder"
    base, probe, spec = _probe(vm_run, BASE)["rtt_ms"], _probe(vm_run, name), spec_for(name)
    assert probe["received"] == probe["sent"], probe
    early = sum(1 for r in probe["rtts_ms"] if r < base["p50"] + spec.delay_ms / 2)
    lo, hi = binomial_interval(probe["received"], spec.reorder_pct / 100)
    assert lo <= early <= hi, (f"{name}: {early}/{probe['received']} replies under "
                               f"{spec.delay_ms / 2:g} ms + base, {CONFIDENCE:.0%} interval for "
                               f"{spec.reorder_pct:g}% is [{lo}, {hi}]; {probe['rtt_ms']}")
    assert probe["rtt_ms"]["min"] < base["p95"] + 1, probe["rtt_ms"]
    assert probe["out_of_order"] > 0, f"{name}: every reply came back in order: {probe}"


def test_duplicate_reaches_the_server_twice(vm_run: VmRun) -> None:
    """Each datagram is sent twice with the duplicate probability: the echo server (namespace B's
    Udp InDatagrams) gets a binomial number of extra copies, and echoes every copy back."""
    name = "egress-duplicate"
    probe, spec = _probe(vm_run, name), spec_for(name)
    assert probe["received"] == probe["sent"], probe
    extra = _udp(vm_run, name, "b")["InDatagrams"] - probe["sent"]
    lo, hi = binomial_interval(probe["sent"], spec.duplicate_pct / 100)
    assert lo <= extra <= hi, (f"{name}: server got {extra} extra copies of {probe['sent']}, "
                               f"{CONFIDENCE:.0%} interval for {spec.duplicate_pct:g}% is "
                               f"[{lo}, {hi}]")
    assert probe["duplicates"] == extra, f"{name}: client saw {probe['duplicates']}, server {extra}"


def test_corrupt_fails_the_checksum(vm_run: VmRun) -> None:
    """netem flips one random bit of the frame (after computing the UDP checksum). A flip in the
    UDP header or payload fails the UDP checksum (B's Udp InCsumErrors); one in the IP header
    fails its checksum, one in the destination MAC or EtherType drops the frame on receipt; only
    the 48 bits of the source MAC and the destination's group bit go unnoticed. So the loss is
    binomial with corrupt * (1 - 49 / frame bits), the checksum errors with
    corrupt * UDP bytes / frame bytes."""
    name = "egress-corrupt"
    probe, spec, frame = _probe(vm_run, name), spec_for(name), _frame_bytes(name)
    corrupt = spec.corrupt_pct / 100
    lost = probe["sent"] - probe["received"]
    lo, hi = binomial_interval(probe["sent"], corrupt * (1 - 49 / (8 * frame)))
    assert lo <= lost <= hi, (f"{name}: lost {lost}/{probe['sent']}, {CONFIDENCE:.0%} interval "
                              f"is [{lo}, {hi}]")
    udp = _udp(vm_run, name, "b")
    lo, hi = binomial_interval(probe["sent"],
                               corrupt * (UDP_HEADER + SPECS[name][1].payload) / frame)
    assert lo <= udp["InCsumErrors"] <= hi, (
        f"{name}: {udp['InCsumErrors']} UDP checksum errors at the server, {CONFIDENCE:.0%} "
        f"interval is [{lo}, {hi}]; {udp}")
    assert udp["InCsumErrors"] <= lost, udp


def test_rate_adds_serialization_time(vm_run: VmRun) -> None:
    """At `rate`, netem holds each frame for its length / rate (1042 bytes at 1 Mbit/s: 8.34 ms);
    probes spaced wider than that never queue, so every RTT is base + that time."""
    name = "egress-rate"
    base, probe, spec = _probe(vm_run, BASE)["rtt_ms"], _probe(vm_run, name), spec_for(name)
    assert spec.rate_bit
    assert probe["received"] == probe["sent"], probe
    serialization_ms = _frame_bytes(name) * 8 / spec.rate_bit * 1000
    rtt = probe["rtt_ms"]
    assert rtt["min"] >= serialization_ms, f"{name}: {rtt}, serialization {serialization_ms:.2f}"
    want = base["p50"] + serialization_ms
    assert abs(rtt["p50"] - want) <= P50_TOLERANCE_MS, (
        f"{name}: RTT p50 {rtt['p50']:.2f} ms, want {want:.2f} ± {P50_TOLERANCE_MS} (base "
        f"{base['p50']:.2f} + serialization {serialization_ms:.2f}); {rtt}")
