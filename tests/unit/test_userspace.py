"""The userspace backend: impaird's decisions (seeded, statistical), its wire format, commands."""
from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import json
import math
import os
import statistics
import struct
import sys
from pathlib import Path
from types import ModuleType

import pytest

from lab.errors import ImpairmentNotInForce, ImpairmentSpecError, ImpairmentUnavailable
from lab.impairment import CommandResult, get_backend
from lab.impairment.probe import ProbeResult, choose_backend, probe_backends
from lab.impairment.spec import Impairment, parse_impairment
from lab.impairment.userspace import (
    IMPAIRD,
    UserspaceBackend,
    queue_for,
    uses_kernel_loss,
)
from lab.observe.stats import binomial_count_interval

IMPAIRD_PATH = Path(__file__).resolve().parents[2] / "images" / "tools" / "impaird.py"


def _load_impaird() -> ModuleType:
    spec = importlib.util.spec_from_file_location("impaird", IMPAIRD_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["impaird"] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


impaird = _load_impaird()


def decider(seed: int | None = 1, **fields: object):
    spec = impaird.Spec(**fields, seed=seed)  # type: ignore[arg-type]
    return impaird.Decider(spec)


def drops(seed: int, n: int = 2000, **fields: object) -> list[int]:
    d = decider(seed, **fields)
    return [k for k in range(n) if d.decide(k * 0.001, 100).drop]


def binomial_bounds(n: int, p: float) -> tuple[int, int]:
    """The exact 99.9% interval of a binomial count (lab.observe.stats, the one the checks use)."""
    return binomial_count_interval(n, p, 0.999)


# --- decisions ------------------------------------------------------------------------------
def test_same_seed_same_drop_list() -> None:
    assert drops(7, loss_pct=20) == drops(7, loss_pct=20)
    assert drops(7, loss_pct=20) != drops(8, loss_pct=20)


def test_drop_list_does_not_depend_on_other_fields() -> None:
    """One RNG stream per kind of choice: adding delay or jitter keeps the same packets lost."""
    assert drops(3, loss_pct=10) == drops(3, loss_pct=10, delay_ms=50, jitter_ms=10,
                                          corrupt_pct=5, reorder_pct=20)


def test_loss_fraction_over_10000_decisions() -> None:
    n, p = 10_000, 0.2
    low, high = binomial_bounds(n, p)
    lost = len(drops(11, n, loss_pct=20))
    assert low <= lost <= high, lost


def test_unseeded_decider_is_random_but_right_on_average() -> None:
    d = decider(None, loss_pct=50)
    lost = sum(d.decide(0, 100).drop for _ in range(4000))
    low, high = binomial_bounds(4000, 0.5)
    assert low <= lost <= high


def test_no_loss_no_drop() -> None:
    assert drops(1, 1000) == []
    assert len(drops(1, 1000, loss_pct=100)) == 1000


def test_constant_delay() -> None:
    d = decider(delay_ms=50)
    assert {d.decide(0, 100).delay_s for _ in range(100)} == {0.05}


def test_uniform_jitter_spread() -> None:
    d = decider(5, delay_ms=50, jitter_ms=10)
    delays = [d.decide(0, 100).delay_s * 1000 for _ in range(20_000)]
    assert 40 <= min(delays) < 40.5 and 59.5 < max(delays) <= 60
    assert statistics.mean(delays) == pytest.approx(50, abs=0.3)
    assert statistics.pstdev(delays) == pytest.approx(10 / math.sqrt(3), rel=0.03)


def test_normal_jitter_spread() -> None:
    d = decider(5, delay_ms=50, jitter_ms=10, distribution="normal")
    delays = [d.decide(0, 100).delay_s * 1000 for _ in range(20_000)]
    assert statistics.mean(delays) == pytest.approx(50, abs=0.3)
    assert statistics.pstdev(delays) == pytest.approx(10, rel=0.03)
    within = sum(40 <= x <= 60 for x in delays) / len(delays)
    assert within == pytest.approx(0.683, abs=0.02)


def test_jitter_never_negative() -> None:
    d = decider(5, delay_ms=5, jitter_ms=50, distribution="normal")
    assert min(d.decide(0, 100).delay_s for _ in range(5000)) >= 0


def test_reorder_sends_fraction_immediately() -> None:
    d = decider(9, delay_ms=20, reorder_pct=25)
    decisions = [d.decide(0, 100) for _ in range(10_000)]
    immediate = [x for x in decisions if x.reordered]
    low, high = binomial_bounds(10_000, 0.25)
    assert low <= len(immediate) <= high
    assert all(x.delay_s == 0 for x in immediate)
    assert all(x.delay_s == pytest.approx(0.02) for x in decisions if not x.reordered)


def test_reorder_without_delay_does_nothing() -> None:
    d = decider(9, reorder_pct=50)
    assert not any(d.decide(0, 100).reordered for _ in range(1000))


def test_duplicate_fraction_and_loss_cancels_it() -> None:
    d = decider(4, duplicate_pct=10)
    dups = sum(d.decide(0, 100).duplicate for _ in range(10_000))
    low, high = binomial_bounds(10_000, 0.1)
    assert low <= dups <= high
    both = decider(4, duplicate_pct=100, loss_pct=100).decide(0, 100)
    assert not both.drop and not both.duplicate  # as netem: one copy goes out


def test_corrupt_bit_is_past_the_ip_header() -> None:
    d = decider(2, corrupt_pct=100)
    bits = [d.decide(0, 48, header_len=20).corrupt_bit for _ in range(2000)]
    assert all(b is not None and 0 <= b < 28 * 8 for b in bits)
    assert len(set(bits)) > 150  # spread over the payload
    assert decider(2, corrupt_pct=100).decide(0, 20, header_len=20).corrupt_bit is None


def test_flip_bit() -> None:
    packet = bytes(range(24))
    flipped = impaird.flip_bit(packet, 9, 20)  # byte 21, second-highest bit
    assert flipped[:21] == packet[:21] and flipped[22:] == packet[22:]
    assert flipped[21] == packet[21] ^ 0x40
    assert impaird.ip_header_len(bytes([0x46]) + bytes(30)) == 24


def test_rate_serialises_packets() -> None:
    d = decider(rate_bit=1_000_000)  # 1000-byte packet: 8 ms on the wire
    delays = [d.decide(0.0, 1000).delay_s for _ in range(3)]
    assert delays == pytest.approx([0.008, 0.016, 0.024])
    later = d.decide(1.0, 1000)  # link idle again
    assert later.delay_s == pytest.approx(0.008)


def test_rate_adds_to_delay() -> None:
    d = decider(delay_ms=10, rate_bit=8_000_000)  # 1000 bytes: 1 ms
    assert d.decide(0.0, 1000).delay_s == pytest.approx(0.011)


def test_overlimit_drop_takes_no_link_time() -> None:
    d = decider(rate_bit=1_000_000)  # 1000-byte packet: 8 ms on the wire
    assert d.decide(0.0, 1000).delay_s == pytest.approx(0.008)
    dropped = d.decide(0.0, 1000, full=True)
    assert dropped.drop and dropped.overlimit
    assert d.decide(0.0, 1000).delay_s == pytest.approx(0.016)  # not 0.024


class FakeQueue:
    def __init__(self) -> None:
        self.verdicts: list[tuple[int, int]] = []

    def verdict(self, packet_id: int, verdict: int, payload: bytes | None = None) -> None:
        self.verdicts.append((packet_id, verdict))


@pytest.fixture
def daemon(tmp_path: Path):
    made = impaird.Daemon(impaird.Spec(rate_bit=1_000_000), 7, str(tmp_path))
    made.queue = FakeQueue()
    yield made
    os.close(made._wake_r)
    os.close(made._wake_w)


def test_daemon_overlimit_drop_does_not_delay_later_packets(daemon) -> None:
    """A packet dropped at the hold limit must not occupy the emulated link."""
    packet = bytes([0x45]) + bytes(999)  # 1000 bytes: 8 ms at 1 Mbit/s
    daemon.held = [impaird.Held(100.0, k, 10_000 + k, None, None)
                   for k in range(impaird.HOLD_LIMIT)]
    daemon.handle(impaird.Packet(1, packet, 4), now=0.0)
    assert daemon.queue.verdicts == [(1, impaird.NF_DROP)]
    assert (daemon.counters.overlimit, daemon.counters.dropped) == (1, 1)
    daemon.held = []
    daemon.handle(impaird.Packet(2, packet, 4), now=0.0)
    (held,) = daemon.held
    assert held.packet_id == 2 and held.release == pytest.approx(0.008)  # not 0.016


# --- the interface must exist ---------------------------------------------------------------
@pytest.fixture
def sys_class_net(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    net = tmp_path / "sys-class-net"
    for name in ("lo", "eth0"):
        (net / name).mkdir(parents=True)
    (net / "bonding_masters").write_text("")  # a file, not an interface
    monkeypatch.setattr(impaird, "SYS_CLASS_NET", str(net))
    return net


def test_missing_interface(sys_class_net: Path) -> None:
    assert impaird.missing_interface("eth0") is None
    reason = impaird.missing_interface("eth1")
    assert reason is not None and "'eth1'" in reason and reason.endswith("interfaces here: eth0, lo")
    for name in ("", ".", "..", "../eth0", "bonding_masters"):
        assert impaird.missing_interface(name), name


def test_setup_refuses_missing_interface(sys_class_net: Path, tmp_path: Path) -> None:
    daemon = impaird.Daemon(impaird.Spec(interface="eth1", delay_ms=10), 7, str(tmp_path / "run"),
                            iptables="/nonexistent/iptables")
    try:
        with pytest.raises(RuntimeError, match=r"'eth1' does not exist.*interfaces here: eth0, lo"):
            daemon.setup()
    finally:
        os.close(daemon._wake_r)
        os.close(daemon._wake_w)
    assert daemon.queue is None and not (tmp_path / "run").exists()  # nothing bound or written


def test_status_not_in_force_when_interface_is_gone(
    sys_class_net: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    spec = impaird.Spec(interface="eth0", delay_ms=10)
    status = {"queue": 7, "mode": "queue", "running": True, "spec": dataclasses.asdict(spec),
              "counters": {"seen": 0}}
    (run / "impaird-7.json").write_text(json.dumps(status))
    (run / "impaird-7.pid").write_text(f"{os.getpid()}\n")  # a live process
    monkeypatch.setattr(impaird.Rules, "present", lambda self: True)
    here = impaird.queue_status(str(run), 7, "iptables")
    assert here["in_force"] and here["interface_present"] and here["reason"] is None
    (sys_class_net / "eth0").rmdir()
    gone = impaird.queue_status(str(run), 7, "iptables")
    assert gone["alive"] and gone["rules_present"]
    assert not gone["in_force"] and not gone["interface_present"]
    assert "'eth0' does not exist" in gone["reason"] and "interfaces here: lo" in gone["reason"]


# --- spec handling in the daemon ------------------------------------------------------------
def test_daemon_spec_reads_impairment_dict() -> None:
    spec = parse_impairment({"delay": "50ms", "jitter": "5ms", "distribution": "normal",
                             "loss": "2%", "seed": 3, "direction": "both"})
    daemon_spec = impaird.Spec.from_json(json.dumps(spec.to_dict()))
    assert daemon_spec.delay_ms == 50 and daemon_spec.seed == 3


@pytest.mark.parametrize(
    "data", [{"distribution": "pareto"}, {"bogus": 1}, {"loss_pct": 101}, {"direction": "up"}],
)
def test_daemon_refuses_what_it_cannot_do(data: dict[str, object]) -> None:
    with pytest.raises((ValueError, TypeError)):
        impaird.Spec.from_json(json.dumps(data))


def test_kernel_loss_rule_agrees_with_backend() -> None:
    values = {"direction": ["egress", "ingress", "both"], "loss_pct": [0.0, 5.0],
              "delay_ms": [0.0, 10.0], "duplicate_pct": [0.0, 1.0], "seed": [None, 1]}
    for combo in itertools.product(*values.values()):
        fields = dict(zip(values, combo))
        lab_spec = Impairment(**fields)  # type: ignore[arg-type]
        assert uses_kernel_loss(lab_spec) == impaird.Spec(**fields).kernel_loss, fields


def test_kernel_loss_only_on_ingress_without_seed() -> None:
    assert uses_kernel_loss(Impairment(direction="ingress", loss_pct=5))
    assert not uses_kernel_loss(Impairment(direction="egress", loss_pct=5))  # EPERM to senders
    assert not uses_kernel_loss(Impairment(direction="ingress", loss_pct=5, seed=1))


def test_chain_rules() -> None:
    rules = impaird.Rules(impaird.Spec(interface="eth1", direction="both", delay_ms=5), 1234)
    assert rules.chain == "SOCKLAB-1234"
    assert rules.jumps() == [["POSTROUTING", "-o", "eth1", "-j", "SOCKLAB-1234"],
                             ["PREROUTING", "-i", "eth1", "-j", "SOCKLAB-1234"]]
    assert rules.chain_rules() == [
        ["-m", "mark", "--mark", hex(impaird.MARK), "-j", "RETURN"],
        ["-j", "NFQUEUE", "--queue-num", "1234", "--queue-bypass"],
    ]
    kernel = impaird.Rules(impaird.Spec(direction="ingress", loss_pct=20), 5)
    assert kernel.chain_rules()[1] == ["-m", "statistic", "--mode", "random", "--probability",
                                       "0.2000000000", "-j", "DROP"]


# --- netlink wire format --------------------------------------------------------------------
def test_packet_message_parse() -> None:
    payload = bytes([0x45]) + bytes(27)
    body = struct.pack("!BBH", 2, 0, 7)
    body += impaird._attr(impaird.NFQA_PACKET_HDR, struct.pack("!IHB", 42, 0x0800, 4))
    body += impaird._attr(impaird.NFQA_PAYLOAD, payload)
    packet = impaird.NfQueue._packet(body)
    assert (packet.packet_id, packet.payload, packet.hook) == (42, payload, 4)


def test_attr_padding() -> None:
    attr = impaird._attr(10, b"abcde")
    assert len(attr) == 12 and struct.unpack("=HH", attr[:4]) == (9, 10)
    assert impaird._parse_attrs(attr + impaird._attr(2, b"xy"), 0, 20) == {10: b"abcde", 2: b"xy"}


# --- backend commands -----------------------------------------------------------------------
def test_registry_and_apply_command() -> None:
    backend = get_backend("userspace")
    assert isinstance(backend, UserspaceBackend) and backend.name == "userspace"
    spec = parse_impairment({"delay": "50ms", "loss": "20%", "seed": 4})
    (command,) = backend.apply_commands(spec)
    queue = str(queue_for("eth0"))
    assert command.argv[:5] == [*IMPAIRD, "start", "--queue", queue]
    assert command.argv[5] == "--spec" and json.loads(command.argv[6]) == spec.to_dict()
    assert command.check  # start returns once the rules are in force
    assert [c.argv for c in backend.clear_commands(spec)] == [[*IMPAIRD, "stop", "--queue", queue]]
    assert not backend.clear_commands(spec)[0].check
    assert [c.argv for c in backend.verify_commands(spec)] == [
        [*IMPAIRD, "status", "--queue", queue]]


def test_queue_numbers() -> None:
    assert 1000 <= queue_for("eth0") < 61000
    assert queue_for("eth0") != queue_for("eth1")


def test_pareto_is_refused_not_ignored() -> None:
    spec = parse_impairment({"delay": "50ms", "jitter": "5ms", "distribution": "pareto"})
    with pytest.raises(ImpairmentUnavailable, match="uniform or normal"):
        UserspaceBackend().apply_commands(spec)


def status(wanted: Impairment, **changes: object) -> CommandResult:
    data = {"alive": True, "rules_present": True, "in_force": True,
            "mode": "kernel" if uses_kernel_loss(wanted) else "queue", "spec": wanted.to_dict()}
    data.update(changes)
    return CommandResult(0, json.dumps(data), "")


def test_verify() -> None:
    spec = parse_impairment({"delay": "50ms"})
    backend = UserspaceBackend()
    backend.verify(spec, [status(spec)])
    cases = [
        (status(spec, alive=False), "not running"),
        (status(spec, rules_present=False), "rules are missing"),
        (status(spec, mode="kernel"), "mode"),
        (status(spec, in_force=False, reason="interface 'eth0' is gone"), "interface 'eth0' is gone"),
        (status(spec, spec=Impairment(delay_ms=10).to_dict()), "different impairment"),
        (CommandResult(1, "", "python3: not found"), "no JSON"),
    ]
    for result, fragment in cases:
        with pytest.raises(ImpairmentNotInForce, match=fragment):
            backend.verify(spec, [result])


# --- probe and choice -----------------------------------------------------------------------
class ProbeRunner:
    def __init__(self, fail: tuple[str, ...] = (), seed_shown: bool = False) -> None:
        self.fail, self.seed_shown = fail, seed_shown
        self.ran: list[list[str]] = []

    def run(self, argv: list[str]) -> CommandResult:
        self.ran.append(argv)
        line = " ".join(argv)
        if any(fragment in line for fragment in self.fail):
            return CommandResult(2, "", "Error: Specified qdisc kind is unknown.")
        if argv[:3] == ["tc", "qdisc", "show"]:
            seed = " seed 1" if self.seed_shown else ""
            return CommandResult(0, f"qdisc netem 8001: root refcnt 2 limit 1000 loss 1%{seed}\n")
        return CommandResult(0, "", "")


def test_probe_without_netem_leaves_nothing() -> None:
    runner = ProbeRunner(fail=("netem",))
    result = probe_backends(runner)
    assert (result.netem, result.nfqueue, result.iptables, result.nft) == (False, True, True, True)
    assert "modprobe sch_netem" in result.details["netem"]
    assert result.describe()[0].startswith("netem: no:")
    assert runner.ran[0][:4] == ["ip", "link", "add", "slprobe0"]
    assert runner.ran[-1] == ["ip", "link", "del", "slprobe0"]
    added = [a for a in runner.ran if a[:2] == ["iptables", "-w"] and "-A" in a]
    deleted = [a for a in runner.ran if a[:2] == ["iptables", "-w"] and "-D" in a]
    assert len(added) == len(deleted) == 2
    assert [*IMPAIRD, "--probe", "--queue", "65123"] in runner.ran
    assert ["nft", "delete", "table", "inet", "slprobe"] in runner.ran


def test_probe_netem_seed() -> None:
    assert probe_backends(ProbeRunner(seed_shown=True)).netem_seed
    assert not probe_backends(ProbeRunner(seed_shown=False)).netem_seed  # old kernel ignores it


def test_probe_cleans_up_when_a_step_raises() -> None:
    class Exploding(ProbeRunner):
        def run(self, argv: list[str]) -> CommandResult:
            if argv[0] == "nft":
                raise RuntimeError("exec failed")
            return super().run(argv)

    runner = Exploding()
    result = probe_backends(runner)
    assert not result.nft and runner.ran[-1] == ["ip", "link", "del", "slprobe0"]


def test_probe_without_net_admin() -> None:
    result = probe_backends(ProbeRunner(fail=("ip link add",)))
    assert not (result.netem or result.nfqueue or result.iptables)
    assert "NET_ADMIN" in result.details["netem"]


def probe(netem: bool = True, seed: bool = False, nfqueue: bool = True,
          iptables: bool = True) -> ProbeResult:
    return ProbeResult(netem, seed, nfqueue, iptables, True, {"nfqueue": "no: x"})


def test_choose_backend() -> None:
    assert choose_backend("auto", probe()) == "netem"
    assert choose_backend("auto", probe(netem=False)) == "userspace"
    assert choose_backend("userspace", probe()) == "userspace"
    assert choose_backend("netem", probe()) == "netem"
    seeded = [Impairment(loss_pct=1, seed=1)]
    assert choose_backend("auto", probe(), seeded) == "userspace"
    assert choose_backend("auto", probe(seed=True), seeded) == "netem"
    ingress_loss = [Impairment(direction="ingress", loss_pct=3)]
    assert choose_backend("userspace", probe(netem=False, nfqueue=False), ingress_loss) == "userspace"


def test_choose_backend_refusals() -> None:
    with pytest.raises(ImpairmentUnavailable, match="modprobe sch_netem") as info:
        choose_backend("netem", probe(netem=False))
    assert "linux-modules-extra" in str(info.value) and "userspace" in str(info.value)
    with pytest.raises(ImpairmentUnavailable, match="seed"):
        choose_backend("netem", probe(), [Impairment(seed=1)])
    with pytest.raises(ImpairmentUnavailable):
        choose_backend("userspace", probe(nfqueue=False))
    with pytest.raises(ImpairmentUnavailable, match="no impairment backend"):
        choose_backend("auto", probe(netem=False, nfqueue=False))
    with pytest.raises(ImpairmentUnavailable, match="seed"):
        choose_backend("auto", probe(nfqueue=False), [Impairment(seed=1)])
    with pytest.raises(ImpairmentSpecError, match="auto, netem, userspace"):
        choose_backend("tc", probe())
