#!/usr/bin/env python3
"""impaird: socklab's userspace impairment daemon, for kernels without sch_netem.

Pure Python 3 standard library (Debian ships no python3-netfilterqueue), so it speaks the
NFQUEUE netlink protocol itself. It runs as root in the helper container that shares the target's
network namespace (capabilities NET_ADMIN for iptables/netlink/SO_MARK, NET_RAW for the raw
socket that re-injects duplicates).

How a packet is impaired
    iptables sends the interface's IPv4 packets (mangle POSTROUTING -o IF for egress, mangle
    PREROUTING -i IF for ingress) through a chain of our own, ``SOCKLAB-<queue>``, to
    ``NFQUEUE --queue-num <queue> --queue-bypass`` (if the daemon dies, traffic flows). For each
    packet a :class:`Decider` says: drop it, or hold it ``delay_s`` and then accept it (verdicts
    may be given out of order, which is what makes delay, jitter, reorder and rate possible),
    possibly with one bit flipped past the IP header (the modified packet is returned with the
    verdict), possibly with a duplicate (a copy sent through a raw IP_HDRINCL socket with
    SO_MARK set; the chain's first rule lets marked packets through, so the copy is not queued
    again. NF_REPEAT would not do: it re-runs the hook for the *same* packet, it does not copy).

    Ingress loss only, no seed: no queue at all, a kernel rule ``-m statistic --mode random
    --probability p -j DROP`` does it (mode "kernel"): no userspace round trip, no added latency,
    no packet ever held. Not on egress: there a netfilter DROP reaches the sending program as
    ``sendto() -> EPERM`` (a UDP server would crash on it), which a lossy link never does; the
    queue's NF_DROP verdict comes after sendto() returned, silently, like a real loss. Anything
    else, or any seed: the daemon decides everything with seeded RNGs (mode "queue"), so a seed
    reproduces the same per-packet choices.

Semantics follow netem: duplicate and loss of the same packet cancel (one copy goes out); a
reordered packet (needs delay) skips the delay; jitter is uniform in +-jitter (default) or
normal(delay, jitter), clipped at 0; rate serialises packets (a packet leaves when the link has
finished sending the ones before it, then waits its delay); at most 1000 packets are held
(netem's default limit), beyond that packets are dropped (as in netem, before they take any time
on the emulated link).

The interface must exist when the daemon starts (``/sys/class/net/<if>``): iptables accepts any
name in ``-o``/``-i``, so an impairment of a missing interface would be "in force" and do nothing.
``start`` refuses it (exit 1, naming the interfaces that exist), and ``status`` reports
``in_force: false`` with a ``reason`` if the interface has gone since.

Command line::

    impaird.py start  --spec JSON --queue N   # daemonise; exit 0 once rules are in force
    impaird.py run    --spec JSON --queue N   # the same in the foreground (SIGTERM/SIGINT stop)
    impaird.py status [--queue N]             # JSON; exit 0 if running with its rules in place
                                              # on an interface that exists (else a reason)
    impaird.py stop   [--queue N]             # SIGTERM, wait, remove leftover rules; exit 0
    impaird.py --probe [--queue N]            # can this namespace bind an NFQUEUE? exit 0/1

Files (``--run-dir``, default /run/socklab): ``impaird-N.pid``, ``impaird-N.json`` (status,
rewritten every 0.5 s, and with the final counters when the daemon stops, before ``stop``
returns), ``impaird-N.log`` (when started with ``start``).
Only IPv4 is impaired (IPv6 and ARP pass untouched).
"""
from __future__ import annotations

import argparse
import errno
import heapq
import json
import logging
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger("impaird")

RUN_DIR = "/run/socklab"
SYS_CLASS_NET = "/sys/class/net"  # this network namespace's interfaces (sysfs mounted in it)
MARK = 0x50C1AB  # SO_MARK of our re-injected duplicates; the chain lets it through
HOLD_LIMIT = 1000  # netem's default limit: packets held at once
STATUS_INTERVAL = 0.5
PROBE_QUEUE = 65123
DISTRIBUTIONS = (None, "uniform", "normal")
SPEC_KEYS = {
    "interface", "direction", "delay_ms", "jitter_ms", "distribution", "loss_pct",
    "duplicate_pct", "reorder_pct", "corrupt_pct", "rate_bit", "seed", "loss_within",
}

# --- netlink / nfnetlink_queue constants (linux/netlink.h, linux/netfilter/nfnetlink_queue.h)
NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_NO_ENOBUFS = 5
SO_RCVBUFFORCE = 33
SO_MARK = 36
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLMSG_ERROR = 0x2
NLMSG_DONE = 0x3
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQNL_CFG_CMD_BIND = 1
NFQNL_CFG_CMD_UNBIND = 2
NFQNL_COPY_PACKET = 2
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_PAYLOAD = 10
NF_DROP = 0
NF_ACCEPT = 1
NLA_TYPE_MASK = 0x3FFF

_NLMSGHDR = struct.Struct("=IHHII")
_NLATTR = struct.Struct("=HH")


# ----------------------------------------------------------------------------------------------
# Decisions: pure, seedable, unit-tested
# ----------------------------------------------------------------------------------------------
@dataclass
class Spec:
    """The impairment, as lab.impairment.spec.Impairment.to_dict() writes it."""

    interface: str = "eth0"
    direction: str = "egress"
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    distribution: str | None = None
    loss_pct: float = 0.0
    duplicate_pct: float = 0.0
    reorder_pct: float = 0.0
    corrupt_pct: float = 0.0
    rate_bit: int | None = None
    seed: int | None = None
    loss_within: int | None = None  # at least one of the first N packets is lost (with loss_pct > 0)

    @classmethod
    def from_json(cls, text: str) -> Spec:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise TypeError("--spec must be a JSON object")
        unknown = sorted(set(data) - SPEC_KEYS)
        if unknown:
            raise ValueError(f"unknown spec keys {unknown}; allowed: {sorted(SPEC_KEYS)}")
        spec = cls(**data)
        spec.check()
        return spec

    def check(self) -> None:
        """Refuse what this daemon cannot do, rather than silently ignoring it."""
        if self.direction not in ("egress", "ingress", "both"):
            raise ValueError(f"direction {self.direction!r}: use egress, ingress or both")
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(
                f"distribution {self.distribution!r}: impaird does uniform and normal only"
            )
        for name in ("loss_pct", "duplicate_pct", "reorder_pct", "corrupt_pct"):
            if not 0 <= getattr(self, name) <= 100:
                raise ValueError(f"{name} must be within 0..100")
        if self.delay_ms < 0 or self.jitter_ms < 0:
            raise ValueError("delay and jitter must be >= 0")
        if self.rate_bit is not None and self.rate_bit <= 0:
            raise ValueError("rate_bit must be positive")
        if self.loss_within is not None and self.loss_within < 1:
            raise ValueError("loss_within must be at least 1 packet")

    @property
    def kernel_loss(self) -> bool:
        """True when an iptables statistic rule does the whole job (see the module docstring).

        Ingress only: a netfilter DROP of a locally sent packet makes the sender's sendto() fail
        with EPERM, which no real link (and no netem) does, so egress loss always goes through
        the queue, whose NF_DROP verdict comes after sendto() returned and is silent.
        """
        return self.seed is None and self.direction == "ingress" and not (
            self.delay_ms or self.jitter_ms or self.duplicate_pct or self.reorder_pct
            or self.corrupt_pct or self.rate_bit
        )


@dataclass(frozen=True)
class Decision:
    """What to do with one packet: drop it, or release it after ``delay_s`` seconds."""

    drop: bool = False
    delay_s: float = 0.0
    duplicate: bool = False
    corrupt_bit: int | None = None  # bit index counted from the end of the IP header
    reordered: bool = False
    overlimit: bool = False  # dropped because the hold queue was full


class Decider:
    """Per-packet choices for a spec; the same seed gives the same choices, packet by packet.

    Each kind of choice has its own RNG stream, drawn exactly once per packet whatever happens,
    so the drop list for a seed does not change when, say, a delay is added.

    ``loss_within`` N (with some loss): when none of the first N-1 packets was lost, the N-th is,
    whatever its draw said, so that a program sending a few datagrams surely meets a loss; the
    draws go on as before, so every later choice is the seed's own.
    """

    def __init__(self, spec: Spec, seed: int | None = None) -> None:
        self.spec = spec
        seed = spec.seed if seed is None else seed

        def stream(purpose: str) -> random.Random:
            return random.Random(f"impaird/{seed}/{purpose}") if seed is not None else random.Random()

        self._loss, self._dup = stream("loss"), stream("duplicate")
        self._corrupt, self._reorder = stream("corrupt"), stream("reorder")
        self._delay = stream("delay")
        self._link_free = 0.0  # when the emulated link finishes sending what it has (rate)
        self._packets = 0      # packets decided so far
        self._lost = 0         # of them, lost (loss_within)

    def decide(self, now: float, length: int, header_len: int = 20, full: bool = False) -> Decision:
        """Decide for a packet of ``length`` bytes (``header_len`` of them the IP header).

        ``full``: the hold queue is at its limit, so a packet that is not lost anyway is dropped
        (``overlimit``); like a lost packet it takes no time on the emulated link (rate).
        """
        spec = self.spec
        lost = self._loss.random() * 100 < spec.loss_pct
        duplicated = self._dup.random() * 100 < spec.duplicate_pct
        self._packets += 1
        if spec.loss_within and spec.loss_pct and not self._lost and self._packets == spec.loss_within:
            lost, duplicated = True, False   # the promised loss (see the class docstring)
        self._lost += lost and not duplicated
        corrupt_draw = self._corrupt.random()
        reorder_draw = self._reorder.random()
        delay_s = self._sample_delay()
        if lost and not duplicated:
            return Decision(drop=True)
        if full:
            return Decision(drop=True, overlimit=True)
        corrupt_bit = None
        payload_bits = (length - header_len) * 8
        if corrupt_draw * 100 < spec.corrupt_pct and payload_bits > 0:
            corrupt_bit = self._corrupt.randrange(payload_bits)
        reordered = bool(spec.delay_ms) and reorder_draw * 100 < spec.reorder_pct
        if reordered:
            delay_s = 0.0
        if spec.rate_bit:
            start = max(now + delay_s, self._link_free)
            self._link_free = start + length * 8 / spec.rate_bit
            delay_s = self._link_free - now
        return Decision(
            drop=False, delay_s=delay_s, duplicate=duplicated and not lost,
            corrupt_bit=corrupt_bit, reordered=reordered,
        )

    def _sample_delay(self) -> float:
        spec = self.spec
        mean, jitter = spec.delay_ms / 1000.0, spec.jitter_ms / 1000.0
        if spec.distribution == "normal":
            value = self._delay.gauss(mean, jitter)
        else:
            value = mean + (2 * self._delay.random() - 1) * jitter
        return max(0.0, value)


def flip_bit(packet: bytes, bit: int, header_len: int) -> bytes:
    """``packet`` with bit ``bit`` (counted from the end of the IP header) inverted."""
    data = bytearray(packet)
    index = header_len + bit // 8
    data[index] ^= 0x80 >> (bit % 8)
    return bytes(data)


def ip_header_len(packet: bytes) -> int:
    return (packet[0] & 0x0F) * 4 if packet else 0


def interfaces() -> list[str]:
    """Names of the network interfaces of this namespace."""
    try:
        names = os.listdir(SYS_CLASS_NET)
    except OSError:
        return []
    return sorted(n for n in names if os.path.isdir(os.path.join(SYS_CLASS_NET, n)))


def missing_interface(name: str) -> str | None:
    """Why ``name`` cannot be impaired here (it does not exist), or None when it exists."""
    if name and "/" not in name and name not in (".", "..") and os.path.isdir(
        os.path.join(SYS_CLASS_NET, name)
    ):
        return None
    existing = ", ".join(interfaces()) or "none found"
    return (f"interface {name!r} does not exist in this network namespace "
            f"(no {os.path.join(SYS_CLASS_NET, name)}); interfaces here: {existing}")


# ----------------------------------------------------------------------------------------------
# NFQUEUE over raw netlink
# ----------------------------------------------------------------------------------------------
def _attr(kind: int, payload: bytes) -> bytes:
    length = _NLATTR.size + len(payload)
    return _NLATTR.pack(length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def _parse_attrs(data: bytes, offset: int, end: int) -> dict[int, bytes]:
    attrs: dict[int, bytes] = {}
    while offset + _NLATTR.size <= end:
        length, kind = _NLATTR.unpack_from(data, offset)
        if length < _NLATTR.size:
            break
        attrs[kind & NLA_TYPE_MASK] = data[offset + _NLATTR.size:offset + length]
        offset += (length + 3) & ~3
    return attrs


@dataclass
class Packet:
    packet_id: int
    payload: bytes
    hook: int


class NfQueue:
    """One bound NFQUEUE queue: packets in, verdicts out (verdicts in any order)."""

    def __init__(self, queue_num: int, maxlen: int = 4 * HOLD_LIMIT) -> None:
        self.queue_num = queue_num
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.bind((0, 0))
        self._seq = 0
        self._pending: list[Packet] = []
        for option in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, option, 8 << 20)
                break
            except OSError:
                continue
        try:
            self.sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
        except OSError:
            pass
        self._config(_attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, socket.AF_INET)))
        self._config(_attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0xFFFF, NFQNL_COPY_PACKET)))
        self._config(_attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", maxlen)))
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def _message(self, msg_type: int, flags: int, body: bytes, family: int = socket.AF_UNSPEC) -> bytes:
        self._seq += 1
        payload = struct.pack("!BBH", family, 0, self.queue_num) + body
        header = _NLMSGHDR.pack(
            _NLMSGHDR.size + len(payload), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, self._seq, 0
        )
        return header + payload

    def _config(self, body: bytes) -> None:
        """Send one config message and wait for its acknowledgement (raise OSError on error)."""
        self.sock.send(self._message(NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, body))
        seq = self._seq
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            data = self.sock.recv(1 << 16)
            for msg_type, msg_seq, payload in self._split(data):
                if msg_type == NLMSG_ERROR and msg_seq == seq:
                    (error,) = struct.unpack_from("=i", payload)
                    if error:
                        raise OSError(-error, f"NFQUEUE config: {os.strerror(-error)}")
                    return
                if msg_type == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                    self._pending.append(self._packet(payload))
        raise TimeoutError("no answer from nfnetlink_queue")

    @staticmethod
    def _split(data: bytes) -> list[tuple[int, int, bytes]]:
        messages = []
        offset = 0
        while offset + _NLMSGHDR.size <= len(data):
            length, msg_type, _flags, seq, _pid = _NLMSGHDR.unpack_from(data, offset)
            if length < _NLMSGHDR.size:
                break
            messages.append((msg_type, seq, data[offset + _NLMSGHDR.size:offset + length]))
            offset += (length + 3) & ~3
        return messages

    @staticmethod
    def _packet(payload: bytes) -> Packet:
        attrs = _parse_attrs(payload, 4, len(payload))  # skip nfgenmsg
        packet_id, _hw_protocol, hook = struct.unpack("!IHB", attrs[NFQA_PACKET_HDR][:7])
        return Packet(packet_id, attrs.get(NFQA_PAYLOAD, b""), hook)

    def receive(self) -> list[Packet]:
        """Every packet waiting in the socket now (never blocks)."""
        packets, self._pending = self._pending, []
        while True:
            try:
                data = self.sock.recv(1 << 17)
            except BlockingIOError:
                return packets
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    log.warning("netlink receive buffer overflowed; the kernel dropped packets")
                    continue
                raise
            for msg_type, _seq, payload in self._split(data):
                if msg_type == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                    packets.append(self._packet(payload))
                elif msg_type == NLMSG_ERROR:
                    (error,) = struct.unpack_from("=i", payload)
                    if error:
                        log.debug("netlink error %s", os.strerror(-error))

    def verdict(self, packet_id: int, verdict: int, payload: bytes | None = None) -> None:
        body = _attr(NFQA_VERDICT_HDR, struct.pack("!II", verdict, packet_id))
        if payload is not None:
            body += _attr(NFQA_PAYLOAD, payload)
        message = self._message(NFQNL_MSG_VERDICT, NLM_F_REQUEST, body)
        while True:
            try:
                self.sock.send(message)
                return
            except BlockingIOError:
                select.select([], [self.sock], [], 1.0)

    def close(self) -> None:
        try:
            self.sock.setblocking(True)
            self.sock.settimeout(2)
            self._config(_attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_UNBIND, 0)))
        except OSError as exc:
            log.debug("unbind: %s", exc)
        finally:
            self.sock.close()


# ----------------------------------------------------------------------------------------------
# iptables rules: a chain of our own, so that removal is exact
# ----------------------------------------------------------------------------------------------
class Rules:
    """The mangle-table rules for one queue: ``SOCKLAB-<queue>`` and the jumps into it."""

    def __init__(self, spec: Spec, queue_num: int, iptables: str = "iptables") -> None:
        self.spec, self.queue_num, self.iptables = spec, queue_num, iptables
        self.chain = chain_name(queue_num)

    def jumps(self) -> list[list[str]]:
        jumps = []
        if self.spec.direction in ("egress", "both"):
            jumps.append(["POSTROUTING", "-o", self.spec.interface, "-j", self.chain])
        if self.spec.direction in ("ingress", "both"):
            jumps.append(["PREROUTING", "-i", self.spec.interface, "-j", self.chain])
        return jumps

    def chain_rules(self) -> list[list[str]]:
        rules = [["-m", "mark", "--mark", hex(MARK), "-j", "RETURN"]]
        if self.spec.kernel_loss:
            if self.spec.loss_pct:
                probability = f"{self.spec.loss_pct / 100:.10f}"
                rules.append(["-m", "statistic", "--mode", "random", "--probability", probability,
                              "-j", "DROP"])
        else:
            rules.append(["-j", "NFQUEUE", "--queue-num", str(self.queue_num), "--queue-bypass"])
        return rules

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [self.iptables, "-w", "-t", "mangle", *args]
        try:
            result = subprocess.run(argv, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            result = subprocess.CompletedProcess(argv, 127, "", f"{self.iptables}: not found")
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {result.stderr.strip()}")
        return result

    def install(self) -> None:
        self.remove()
        self._run("-N", self.chain)
        for rule in self.chain_rules():
            self._run("-A", self.chain, *rule)
        for jump in self.jumps():
            self._run("-A", *jump)

    def remove(self) -> None:
        """Remove the jumps (every copy) and the chain; silent when there is nothing."""
        for chain in ("POSTROUTING", "PREROUTING"):
            for line in self._run("-S", chain, check=False).stdout.splitlines():
                words = line.split()
                if words[:2] == ["-A", chain] and words[-2:] == ["-j", self.chain]:
                    self._run("-D", *words[1:], check=False)
        self._run("-F", self.chain, check=False)
        self._run("-X", self.chain, check=False)

    def present(self) -> bool:
        """Chain and every jump in place."""
        listing = self._run("-S", check=False).stdout.splitlines()
        if f"-N {self.chain}" not in listing:
            return False
        return all(any(_same_rule(line, ["-A", *jump]) for line in listing) for jump in self.jumps())

    def counters(self) -> dict[str, int]:
        """Packet counters of the chain's rules (used in kernel mode)."""
        out = self._run("-L", self.chain, "-v", "-x", "-n", check=False).stdout
        counters = {"seen": 0, "dropped": 0}
        for line in out.splitlines()[2:]:
            words = line.split()
            if len(words) >= 3 and words[0].isdigit() and words[2] in ("DROP", "NFQUEUE"):
                counters["dropped" if words[2] == "DROP" else "queued"] = int(words[0])
        jumps = self._run("-L", "POSTROUTING", "-v", "-x", "-n", check=False).stdout.splitlines()
        jumps += self._run("-L", "PREROUTING", "-v", "-x", "-n", check=False).stdout.splitlines()
        counters["seen"] = sum(int(w[0]) for w in (line.split() for line in jumps)
                               if len(w) >= 3 and w[0].isdigit() and w[2] == self.chain)
        return counters


def _same_rule(line: str, rule: list[str]) -> bool:
    return line.split() == rule


def chain_name(queue_num: int) -> str:
    return f"SOCKLAB-{queue_num}"


# ----------------------------------------------------------------------------------------------
# The daemon
# ----------------------------------------------------------------------------------------------
@dataclass
class Counters:
    seen: int = 0
    accepted: int = 0
    dropped: int = 0
    delayed: int = 0
    duplicated: int = 0
    corrupted: int = 0
    reordered: int = 0
    overlimit: int = 0


@dataclass(order=True)
class Held:
    release: float
    order: int
    packet_id: int = field(compare=False)
    payload: bytes | None = field(compare=False)  # modified payload, or None
    duplicate: bytes | None = field(compare=False)  # bytes to re-inject after release


class Daemon:
    """Owns the queue, the rules, the held packets and the status file for one queue number."""

    def __init__(self, spec: Spec, queue_num: int, run_dir: str, iptables: str = "iptables") -> None:
        self.spec, self.queue_num, self.run_dir = spec, queue_num, run_dir
        self.rules = Rules(spec, queue_num, iptables)
        self.decider = Decider(spec)
        self.counters = Counters()
        self.held: list[Held] = []
        self.queue: NfQueue | None = None
        self.raw: socket.socket | None = None
        self.stopping = False
        self._order = 0
        self._wake_r, self._wake_w = os.pipe()
        self.started = time.time()

    @property
    def mode(self) -> str:
        return "kernel" if self.spec.kernel_loss else "queue"

    def setup(self) -> None:
        """Bind before installing rules, so that no packet meets a queue nobody reads.

        Refuses a missing interface first: iptables would take the name and match nothing.
        """
        missing = missing_interface(self.spec.interface)
        if missing:
            raise RuntimeError(missing)
        os.makedirs(self.run_dir, exist_ok=True)
        if self.mode == "queue":
            self.queue = NfQueue(self.queue_num)
            if self.spec.duplicate_pct:
                self.raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
                self.raw.setsockopt(socket.SOL_SOCKET, SO_MARK, MARK)
        self.rules.install()
        write_atomic(pid_path(self.run_dir, self.queue_num), f"{os.getpid()}\n")
        self.write_status()

    def request_stop(self, *_: object) -> None:
        self.stopping = True
        os.write(self._wake_w, b"x")

    def serve(self) -> None:
        next_status = time.monotonic() + STATUS_INTERVAL
        readers = [self._wake_r] + ([self.queue.fileno()] if self.queue else [])
        while not self.stopping:
            now = time.monotonic()
            timeout = next_status - now
            if self.held:
                timeout = min(timeout, self.held[0].release - now)
            ready, _, _ = select.select(readers, [], [], max(0.0, timeout))
            if self.queue and self.queue.fileno() in ready:
                for packet in self.queue.receive():
                    self.handle(packet, time.monotonic())
            self.release_due(time.monotonic())
            if time.monotonic() >= next_status:
                self.write_status()
                next_status = time.monotonic() + STATUS_INTERVAL

    def handle(self, packet: Packet, now: float) -> None:
        assert self.queue is not None
        self.counters.seen += 1
        header_len = ip_header_len(packet.payload)
        decision = self.decider.decide(now, len(packet.payload), header_len,
                                       full=len(self.held) >= HOLD_LIMIT)
        if decision.drop:
            self.counters.overlimit += decision.overlimit
            self.counters.dropped += 1
            self.queue.verdict(packet.packet_id, NF_DROP)
            return
        payload = None
        if decision.corrupt_bit is not None:
            payload = flip_bit(packet.payload, decision.corrupt_bit, header_len)
            self.counters.corrupted += 1
        duplicate = packet.payload if decision.duplicate else None
        self.counters.reordered += decision.reordered
        if decision.delay_s <= 0 and not self.held:
            self.release(packet.packet_id, payload, duplicate)
            return
        self.counters.delayed += decision.delay_s > 0
        self._order += 1
        heapq.heappush(self.held, Held(now + decision.delay_s, self._order, packet.packet_id,
                                       payload, duplicate))

    def release_due(self, now: float) -> None:
        while self.held and self.held[0].release <= now:
            held = heapq.heappop(self.held)
            self.release(held.packet_id, held.payload, held.duplicate)

    def release(self, packet_id: int, payload: bytes | None, duplicate: bytes | None) -> None:
        assert self.queue is not None
        self.queue.verdict(packet_id, NF_ACCEPT, payload)
        self.counters.accepted += 1
        if duplicate is not None and self.raw is not None:
            try:
                self.raw.sendto(duplicate, (socket.inet_ntoa(duplicate[16:20]), 0))
                self.counters.duplicated += 1
            except OSError as exc:
                log.warning("duplicate not sent: %s", exc)

    def shutdown(self) -> None:
        """Remove rules first (no new packets), let every held packet go, then unbind."""
        try:
            self.rules.remove()
        finally:
            if self.queue is not None:
                for packet in self.queue.receive():
                    self.queue.verdict(packet.packet_id, NF_ACCEPT)
                while self.held:
                    held = heapq.heappop(self.held)
                    self.queue.verdict(held.packet_id, NF_ACCEPT, held.payload)
                self.queue.close()
            if self.raw is not None:
                self.raw.close()
            self.write_status(running=False)
            try:
                os.unlink(pid_path(self.run_dir, self.queue_num))
            except FileNotFoundError:
                pass

    def status(self, running: bool = True) -> dict[str, Any]:
        counters = asdict(self.counters)
        if self.mode == "kernel" and running:
            counters.update(self.rules.counters())
        return {
            "pid": os.getpid(), "queue": self.queue_num, "chain": self.rules.chain,
            "mode": self.mode, "running": running, "spec": asdict(self.spec),
            "started": self.started, "updated": time.time(), "held": len(self.held),
            "counters": counters,
        }

    def write_status(self, running: bool = True) -> None:
        write_atomic(status_path(self.run_dir, self.queue_num), json.dumps(self.status(running)))


def write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def pid_path(run_dir: str, queue_num: int) -> str:
    return os.path.join(run_dir, f"impaird-{queue_num}.pid")


def status_path(run_dir: str, queue_num: int) -> str:
    return os.path.join(run_dir, f"impaird-{queue_num}.json")


def log_path(run_dir: str, queue_num: int) -> str:
    return os.path.join(run_dir, f"impaird-{queue_num}.log")


def pid_alive(pid: int) -> bool:
    """True for a live process; a zombie (exited, not yet reaped by PID 1) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def read_pid(run_dir: str, queue_num: int) -> int | None:
    try:
        with open(pid_path(run_dir, queue_num), encoding="utf-8") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


# ----------------------------------------------------------------------------------------------
# Commands
# ----------------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace, ready_fd: int | None = None) -> int:
    spec = Spec.from_json(args.spec)
    stop_queue(args.run_dir, args.queue, args.iptables, timeout=5.0)  # applying again replaces
    daemon = Daemon(spec, args.queue, args.run_dir, args.iptables)
    signal.signal(signal.SIGTERM, daemon.request_stop)
    signal.signal(signal.SIGINT, daemon.request_stop)
    # `status` asks for fresh counters with SIGUSR1 instead of reading a snapshot up to 0.5 s old.
    signal.signal(signal.SIGUSR1, lambda signum, frame: daemon.write_status())
    try:
        daemon.setup()
    except Exception as exc:  # noqa: BLE001 - report why, clean up, fail
        daemon.rules.remove()
        _report_ready(ready_fd, f"error: {exc}")
        log.error("setup failed: %s", exc)
        return 1
    log.info("in force: queue %s mode %s spec %s", args.queue, daemon.mode, asdict(spec))
    _report_ready(ready_fd, "ok")
    try:
        daemon.serve()
    finally:
        daemon.shutdown()
        log.info("stopped; counters %s", asdict(daemon.counters))
    return 0


def _report_ready(fd: int | None, message: str) -> None:
    if fd is None:
        return
    os.write(fd, message.encode() + b"\n")
    os.close(fd)


def cmd_start(args: argparse.Namespace) -> int:
    """Daemonise (double fork, stdio detached so ``docker exec`` returns) once rules are in force."""
    Spec.from_json(args.spec)  # fail fast, in the caller's terminal
    os.makedirs(args.run_dir, exist_ok=True)
    read_fd, write_fd = os.pipe()
    if os.fork() > 0:
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            answer = pipe.readline().strip()
        if answer == "ok":
            print(json.dumps({"started": True, "queue": args.queue,
                              "pid": read_pid(args.run_dir, args.queue)}))
            return 0
        print(answer or "error: impaird exited before it was ready", file=sys.stderr)
        return 1
    os.close(read_fd)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    logfile = os.open(log_path(args.run_dir, args.queue), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(devnull, 0)
    os.dup2(logfile, 1)
    os.dup2(logfile, 2)
    os.close(devnull)
    os.close(logfile)
    _setup_logging(args.verbose)
    try:
        code = cmd_run(args, ready_fd=write_fd)
    except Exception:  # the daemon's last word goes to its log
        log.exception("impaird crashed")
        code = 1
    os._exit(code)


def refresh_status(run_dir: str, queue_num: int, wait: float = 0.5) -> None:
    """Ask a running daemon to rewrite its status file now (SIGUSR1) and wait until it has."""
    pid = read_pid(run_dir, queue_num)
    if pid is None or pid == os.getpid() or not pid_alive(pid):
        return
    try:  # a recycled pid must never get the signal: SIGUSR1 would end any other process
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            if b"impaird" not in handle.read():
                return
    except OSError:
        return
    path = status_path(run_dir, queue_num)
    try:
        before = os.stat(path).st_mtime_ns
    except OSError:
        before = 0
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            if os.stat(path).st_mtime_ns != before:
                return
        except OSError:
            pass
        time.sleep(0.01)


def queue_status(run_dir: str, queue_num: int, iptables: str) -> dict[str, Any]:
    """Status of one queue: the daemon's own file, checked against the process and the rules."""
    refresh_status(run_dir, queue_num)
    try:
        with open(status_path(run_dir, queue_num), encoding="utf-8") as handle:
            status = json.load(handle)
    except (OSError, ValueError):
        status = {"queue": queue_num, "running": False, "counters": {}}
    pid = read_pid(run_dir, queue_num)
    status["alive"] = pid is not None and pid_alive(pid)
    spec = Spec(**status["spec"]) if isinstance(status.get("spec"), dict) else Spec()
    rules = Rules(spec, queue_num, iptables)
    status["rules_present"] = bool(status.get("spec")) and rules.present()
    if status.get("mode") == "kernel" and status["alive"]:
        status["counters"].update(rules.counters())
    reasons = []
    if not status["alive"]:
        reasons.append(f"impaird for queue {queue_num} is not running")
    if not status["rules_present"]:
        reasons.append(f"the iptables rules of {rules.chain} are missing")
    if status.get("spec"):
        missing = missing_interface(spec.interface)
        status["interface_present"] = missing is None
        if missing:  # the rules match by name: they are in place and impair nothing
            reasons.append(missing)
    status["in_force"] = not reasons
    status["reason"] = "; ".join(reasons) or None
    return status


def known_queues(run_dir: str) -> list[int]:
    try:
        names = os.listdir(run_dir)
    except OSError:
        return []
    queues = set()
    for name in names:
        stem, _, ext = name.partition(".")
        if stem.startswith("impaird-") and ext in ("pid", "json") and stem[8:].isdigit():
            queues.add(int(stem[8:]))
    return sorted(queues)


def cmd_status(args: argparse.Namespace) -> int:
    queues = [args.queue] if args.queue is not None else known_queues(args.run_dir)
    statuses = [queue_status(args.run_dir, q, args.iptables) for q in queues]
    if args.queue is not None:
        print(json.dumps(statuses[0], sort_keys=True))
        return 0 if statuses[0]["in_force"] else 1
    print(json.dumps({"daemons": statuses}, sort_keys=True))
    return 0 if statuses and all(s["in_force"] for s in statuses) else 1


def stop_queue(run_dir: str, queue_num: int, iptables: str, timeout: float) -> bool:
    """SIGTERM the daemon of ``queue_num``, wait for it, then remove rules it left behind."""
    pid = read_pid(run_dir, queue_num)
    stopped = True
    if pid is not None and pid != os.getpid() and pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and os.path.exists(pid_path(run_dir, queue_num)):
            if time.monotonic() > deadline:
                log.warning("impaird %s did not stop in %.0f s; killing it", pid, timeout)
                os.kill(pid, signal.SIGKILL)
                stopped = False
                break
            time.sleep(0.05)
    spec = Spec(interface="eth0", direction="both")
    leftovers = Rules(spec, queue_num, iptables)
    leftovers.remove()  # exact: only jumps to our own chain, then the chain
    for path in (pid_path(run_dir, queue_num),):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    return stopped


def cmd_stop(args: argparse.Namespace) -> int:
    queues = [args.queue] if args.queue is not None else known_queues(args.run_dir)
    results = {q: stop_queue(args.run_dir, q, args.iptables, args.timeout) for q in queues}
    print(json.dumps({"stopped": sorted(results), "clean": all(results.values())}))
    return 0


def cmd_probe(queue_num: int) -> int:
    try:
        NfQueue(queue_num).close()
    except OSError as exc:
        print(json.dumps({"nfqueue": False, "error": str(exc)}))
        return 1
    print(json.dumps({"nfqueue": True}))
    return 0


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s impaird[%(process)d] %(levelname)s %(message)s",
        force=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="impaird", description=__doc__.split("\n\n")[0])
    parser.add_argument("--probe", action="store_true", help="check that an NFQUEUE can be bound")
    parser.add_argument("--run-dir", default=os.environ.get("IMPAIRD_RUN_DIR", RUN_DIR))
    parser.add_argument("--iptables", default=os.environ.get("IMPAIRD_IPTABLES", "iptables"))
    parser.add_argument("--verbose", "-v", action="store_true")
    parser.add_argument("--queue", type=int, default=None, help="NFQUEUE number (0..65535)")
    sub = parser.add_subparsers(dest="command")
    for name in ("run", "start"):
        command = sub.add_parser(name)
        command.add_argument("--spec", required=True, help="JSON of Impairment.to_dict()")
        command.add_argument("--queue", type=int, required=True)
    for name in ("status", "stop"):
        command = sub.add_parser(name)
        command.add_argument("--queue", type=int, default=None)
        command.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    if args.probe:
        return cmd_probe(args.queue if args.queue is not None else PROBE_QUEUE)
    if args.command in ("run", "start"):
        if not 0 <= args.queue <= 65535:
            parser.error("--queue must be within 0..65535")
        try:
            Spec.from_json(args.spec)
        except (ValueError, TypeError) as exc:
            print(f"error: bad --spec: {exc}", file=sys.stderr)
            return 2
        return cmd_run(args) if args.command == "run" else cmd_start(args)
    if args.command == "status":
        return cmd_status(args)
    if args.command == "stop":
        return cmd_stop(args)
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
