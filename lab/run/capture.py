"""Packet captures on a live run: tcpdump in each host's helper, pcaps copied out, decoded.

The helper shares the host's network namespace and holds NET_ADMIN/NET_RAW (lab.run.impairing starts
it; one helper per host serves both impairments and captures), so the programs stay unprivileged.

Two views of an interface:
* **wire** (``NAME.HOST.IF.pcap``): ``tcpdump -i IF``, every frame the interface carried, with the
  kernel's receive/transmit timestamps. A frame an *egress* impairment dropped never reaches the
  interface (netem and the userspace daemon both sit before it), so it is not here.
* **sent** (``NAME.HOST.IF.sent.pcap``), only on interfaces with an egress impairment: the IPv4
  packets the host's own sockets handed to that interface, logged by netfilter (raw OUTPUT, the
  first hook, before any impairment) to NFLOG and written by ``tcpdump -i nflog:N``. Together
  with the wire view it shows which datagrams the host sent and the link lost.

The capture starts before the first client: each tcpdump has printed "listening on" before
`start` returns. It stops after the last client: SIGINT, then a wait until every tcpdump has
exited, i.e. flushed its file, and the packet counts tcpdump reports are kept with each file.
"""
from __future__ import annotations

import io
import logging
import re
import shlex
import tarfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lab.engines.base import Lab
from lab.errors import StepFailed
from lab.run.impairing import HelperRunner, start_helper
from lab.observe.pcap import Packet, read_pcap
from lab.scenario.plan import Instance, Plan

log = logging.getLogger(__name__)

WORK_DIR = "/tmp/socklab-capture"
LISTEN_TIMEOUT_S = 10
STOP_TIMEOUT_S = 10
# 2048 bytes hold every frame of a 1500-byte MTU whole; only the 64 KiB super-packets of a bulk TCP
# transfer (GSO) are cut, and the decoder still reads their length from the IP header. Smaller
# records and an 8 MiB ring keep tcpdump from falling behind (kernel drops) on a busy machine.
SNAPLEN = 2048
BUFFER_KIB = 8192
NFLOG_GROUP_BASE = 100
# After the last client exits its final packets are already on the wire (a veth delivers in
# microseconds), but tcpdump may not have read them from its ring yet: on a busy machine it waits
# for the CPU. Before SIGINT each tcpdump is asked for its counts (SIGUSR1) until it has written
# every packet the kernel handed it, for at most SETTLE_TRIES x SETTLE_POLL_S.
SETTLE_POLL_S = 0.05
SETTLE_TRIES = 40
# --immediate-mode: without it libpcap hands packets over a ring block at a time, and the block
# still filling when SIGINT comes is never written: the capture would lose its tail.
# -U: each packet written to the file as it comes; -n: no name lookups (there is no resolver).
TCPDUMP_OPTIONS = f"--immediate-mode -U -n -s {SNAPLEN} -B {BUFFER_KIB}"


@dataclass(frozen=True)
class CaptureFile:
    """One pcap of a run: which host and interface, which view, how many packets it holds."""

    host: str          # the scenario's host (client), shared by its replicas
    instance: str      # the container (client-2)
    interface: str
    view: str          # "wire" | "sent"
    file: str          # file name in the capture directory
    packets: int       # records in the file
    captured: int | None = None   # tcpdump's own "packets captured" (None: it did not say)
    dropped: int | None = None    # tcpdump's "packets dropped by kernel"

    def describe(self) -> str:
        what = "sent by its sockets (before any impairment)" if self.view == "sent" else "on the wire"
        return f"{self.instance} {self.interface}: {self.packets} packets {what} ({self.file})"


@dataclass
class Captures:
    """What the run captured: the files, their decoded packets, where they are kept (or not)."""

    files: list[CaptureFile] = field(default_factory=list)
    packets: dict[str, tuple[Packet, ...]] = field(default_factory=dict)   # file -> packets
    addresses: dict[str, dict[str, str]] = field(default_factory=dict)     # instance -> interface -> IPv4
    kept_in: Path | None = None      # None: decoded, then removed (no --report-dir)
    problems: list[str] = field(default_factory=list)

    def of(self, instance: str, view: str = "wire") -> list[CaptureFile]:
        return [f for f in self.files if f.instance == instance and f.view == view]

    def packets_of(self, instance: str, view: str = "wire") -> list[Packet]:
        """Every packet of one container's captures of a view, in time order."""
        found = [p for f in self.of(instance, view) for p in self.packets[f.file]]
        return sorted(found, key=lambda p: p.time)

    def address_owner(self) -> dict[str, str]:
        """IPv4 address -> container, for naming the ends of each packet."""
        return {ip: instance for instance, table in self.addresses.items() for ip in table.values()}


@dataclass
class _Running:
    instance: Instance
    runner: HelperRunner
    interfaces: dict[str, str]            # interface -> IPv4 (may be "")
    taps: list[tuple[str, str, str]]      # (interface, view, file in WORK_DIR)
    pids: list[str]


def capture_instances(plan: Plan) -> list[Instance]:
    return [i for i in plan.instances if i.host in plan.capture_hosts]


class CaptureSession:
    """The captures of one run: started once the captured hosts are up, stopped after the clients."""

    def __init__(self, lab: Lab, plan: Plan, directory: Path, progress: Callable[[str], None]) -> None:
        self.lab, self.plan, self.directory, self.progress = lab, plan, directory, progress
        self.running: dict[str, _Running] = {}

    def start_ready(self) -> None:
        """Start tcpdump on every interface of each captured host that is up and not captured yet."""
        up = set(self.lab.hosts())
        pending = [i for i in capture_instances(self.plan) if i.name in up and i.name not in self.running]
        # Hosts are independent: their helpers and tcpdumps start at once (each is a few round trips).
        with ThreadPoolExecutor(max_workers=min(8, len(pending) or 1)) as pool:
            for instance, running in zip(pending, pool.map(self._start, pending)):
                self.running[instance.name] = running
        if pending:
            taps = sum(len(r.taps) for r in self.running.values())
            self.progress(f"capture listening on {taps} interface view(s) of "
                          f"{', '.join(i.name for i in pending)}")

    def _start(self, instance: Instance) -> _Running:
        runner = start_helper(self.lab, instance)
        interfaces = _interfaces(runner, instance.name)
        egress = {s.interface for s in instance.impairments if s.direction in ("egress", "both")}
        taps: list[tuple[str, str, str]] = []
        commands = [f"mkdir -p {WORK_DIR}", f"cd {WORK_DIR}"]
        for position, interface in enumerate(sorted(interfaces)):
            wire = f"{interface}.pcap"
            taps.append((interface, "wire", wire))
            commands.append(f"tcpdump -i {shlex.quote(interface)} {TCPDUMP_OPTIONS} -w {wire} "
                            f">/dev/null 2>{wire}.log & echo $! >>pids")
            if interface in egress:
                group = NFLOG_GROUP_BASE + position
                sent = f"{interface}.sent.pcap"
                taps.append((interface, "sent", sent))
                # raw OUTPUT is the first hook a locally sent packet meets: before the userspace
                # backend's mangle POSTROUTING queue and before netem's qdisc.
                commands.append(f"iptables -w -t raw -A OUTPUT -o {shlex.quote(interface)} -j NFLOG "
                                f"--nflog-group {group} --nflog-threshold 1 || exit 3")
                commands.append(f"tcpdump -i nflog:{group} {TCPDUMP_OPTIONS} -w {sent} "
                                f">/dev/null 2>{sent}.log & echo $! >>pids")
        logs = " ".join(f"{t[2]}.log" for t in taps)
        # Wait (in the helper, no round trips) until every tcpdump says it is listening.
        commands.append(f"for i in $(seq 1 {LISTEN_TIMEOUT_S * 50}); do n=0; for f in {logs}; do "
                        f"grep -q 'listening on' $f && n=$((n+1)); done; "
                        f"[ $n -eq {len(taps)} ] && cat pids && exit 0; sleep 0.02; done; "
                        f"cat {logs} >&2; exit 1")
        result = runner.run(["sh", "-c", "; ".join(commands)])
        if result.rc != 0:
            raise StepFailed(f"capture on {instance.name} did not start (every tcpdump listening within "
                             f"{LISTEN_TIMEOUT_S} s, the NFLOG rule in place): {result.stderr.strip()[-400:]}")
        pids = result.stdout.split()
        log.debug("capture on %s: %s (pids %s)", instance.name, taps, pids)
        return _Running(instance, runner, interfaces, taps, pids)

    def stop(self) -> Captures:
        """SIGINT every tcpdump, wait for each to flush and exit, copy the pcaps out, decode them."""
        captures = Captures(kept_in=self.directory)
        if not self.running:
            return captures

        def stop_one(running: _Running) -> Captures:
            part = Captures(kept_in=self.directory)
            try:
                self._stop_one(running, part)
            except StepFailed as error:
                part.problems.append(str(error))
                log.warning("%s", error)
            return part

        with ThreadPoolExecutor(max_workers=min(8, len(self.running))) as pool:
            for (name, running), part in zip(self.running.items(), pool.map(stop_one, self.running.values())):
                captures.addresses[name] = running.interfaces
                captures.files += part.files
                captures.packets.update(part.packets)
                captures.problems += part.problems
        self.running.clear()
        return captures

    def _stop_one(self, running: _Running, captures: Captures) -> None:
        pids = " ".join(running.pids)
        script = (f"cd {WORK_DIR}; {settle_script(running.pids, [f'{t[2]}.log' for t in running.taps])}; "
                  f"kill -INT {pids}; for i in $(seq 1 {STOP_TIMEOUT_S * 50}); do alive=0; "
                  f"for p in {pids}; do kill -0 $p 2>/dev/null && alive=1; done; "
                  f"[ $alive -eq 0 ] && exit 0; sleep 0.02; done; exit 1")
        result = running.runner.run(["sh", "-c", script])
        if result.rc != 0:
            raise StepFailed(f"tcpdump on {running.instance.name} did not stop within {STOP_TIMEOUT_S} s")
        archive = self.lab.copy_out(running.runner.helper, WORK_DIR)
        members = _untar(archive)
        prefix = f"{self.plan.scenario.name}.{running.instance.name}"
        for interface, view, name in running.taps:
            data = members.get(name)
            if data is None:
                raise StepFailed(f"{running.instance.name}: {name} missing after the capture")
            target = f"{prefix}.{interface}.pcap" if view == "wire" else f"{prefix}.{interface}.sent.pcap"
            (self.directory / target).write_bytes(data)
            decoded = read_pcap(data)
            tcpdump_log = members.get(f"{name}.log", b"").decode(errors="replace")
            captured, _received, dropped = tcpdump_counts(tcpdump_log)
            captures.files.append(CaptureFile(running.instance.host, running.instance.name, interface,
                                              view, target, decoded.records, captured, dropped))
            captures.packets[target] = decoded.packets
            captures.problems += count_problems(target, decoded.records, tcpdump_log)


def _interfaces(runner: HelperRunner, instance: str) -> dict[str, str]:
    """Interfaces of the host's namespace (loopback left out) and their IPv4 addresses."""
    result = runner.run(["ip", "-o", "-4", "addr", "show"])
    links = runner.run(["ls", "/sys/class/net"])
    if result.rc != 0 or links.rc != 0:
        raise StepFailed(f"listing the interfaces of {instance} failed: {(result.stderr + links.stderr).strip()}")
    found = {name: "" for name in links.stdout.split() if name != "lo"}
    for line in result.stdout.splitlines():
        words = line.split()
        if len(words) >= 4 and words[1] in found and words[2] == "inet":
            found[words[1]] = words[3].split("/")[0]
    return found


def settle_script(pids: list[str], logs: list[str]) -> str:
    """Shell that waits until every tcpdump has written all the kernel handed it (see SETTLE_TRIES).

    SIGUSR1 makes tcpdump print "tcpdump: N packets captured, M packets received by filter, ..."
    to its log; settled when the latest such line of every log has N = M. It gives up quietly
    after SETTLE_TRIES polls: the "capture complete" check then reports what is missing.

    >>> print(settle_script(["7"], ["eth0.pcap.log"]))  # doctest: +NORMALIZE_WHITESPACE
    for i in $(seq 1 40); do kill -USR1 7; sleep 0.05;
    awk '/^tcpdump: .* received by filter/ {c = $2; r = $5} END {exit !(c != "" && c == r)}' eth0.pcap.log
    && break; done
    """
    settled = " && ".join(f"awk '/^tcpdump: .* received by filter/ {{c = $2; r = $5}} "
                          f"END {{exit !(c != \"\" && c == r)}}' {log}" for log in logs)
    return (f"for i in $(seq 1 {SETTLE_TRIES}); do kill -USR1 {' '.join(pids)}; sleep {SETTLE_POLL_S}; "
            f"{settled} && break; done")


def tcpdump_counts(text: str) -> tuple[int | None, int | None, int | None]:
    """(captured, received by filter, dropped by kernel) from tcpdump's exit report.

    "received by filter" is what the kernel handed over; "captured" what tcpdump wrote. They
    differ when tcpdump stops before reading everything (a lost tail).

    >>> tcpdump_counts("12 packets captured\\n13 packets received by filter\\n0 packets dropped by kernel\\n")
    (12, 13, 0)
    >>> tcpdump_counts("tcpdump: listening on eth0")
    (None, None, None)
    """
    found = [re.search(rf"^(\d+) packets? {what}", text, re.MULTILINE)
             for what in ("captured", "received by filter", "dropped by kernel")]
    return tuple(int(m.group(1)) if m else None for m in found)  # type: ignore[return-value]


def settled_counts(text: str) -> tuple[int, int] | None:
    """(captured, received by filter) in tcpdump's last SIGUSR1 report in its log, or None.

    That report is the run's end: settle_script asks for it after the last client has exited,
    until the two are equal (every packet the kernel had handed tcpdump is written), and SIGINT
    follows.

    >>> settled_counts("tcpdump: listening on eth0\\n"
    ...                "tcpdump: 3 packets captured, 4 packets received by filter, 0 packets dropped by kernel\\n"
    ...                "tcpdump: 4 packets captured, 4 packets received by filter, 0 packets dropped by kernel\\n"
    ...                "4 packets captured\\n5 packets received by filter\\n0 packets dropped by kernel\\n")
    (4, 4)
    >>> settled_counts("tcpdump: listening on eth0\\n") is None
    True
    """
    found = re.findall(r"^tcpdump: (\d+) packets? captured, (\d+) packets? received by filter", text, re.MULTILINE)
    return (int(found[-1][0]), int(found[-1][1])) if found else None


def count_problems(target: str, records: int, tcpdump_log: str) -> list[str]:
    """What says a capture is not the whole run: tcpdump's counts against the file's `records`.

    A packet the kernel hands tcpdump *after* the settled report (between it and SIGINT: an ARP
    probe, a late retransmission) is counted in the exit report's "received by filter" but never
    written, since tcpdump stops reading at SIGINT. It is after the run's end, so it is no gap in
    the capture; comparing the exit report's two counts failed "capture complete" on it (once, in
    CI: 16 received, 15 captured and written, 0 dropped). A packet handed over by the run's end
    and not written by tcpdump's exit is the run's own tail, missing: that is a problem.

    >>> count_problems("c.pcap", 15, "tcpdump: 15 packets captured, 15 packets received by filter, 0 packets dropped by kernel\\n"
    ...                "15 packets captured\\n16 packets received by filter\\n0 packets dropped by kernel\\n")
    []
    >>> count_problems("c.pcap", 14, "tcpdump: 14 packets captured, 15 packets received by filter, 0 packets dropped by kernel\\n"
    ...                "14 packets captured\\n15 packets received by filter\\n0 packets dropped by kernel\\n")
    ['c.pcap: when the run ended the kernel had handed tcpdump 15 packets; it wrote 14']
    """
    captured, received, dropped = tcpdump_counts(tcpdump_log)
    settled = settled_counts(tcpdump_log)
    problems = []
    if captured is None:
        problems.append(f"{target}: tcpdump did not report its counts (killed?)")
    elif captured != records:
        problems.append(f"{target}: tcpdump counted {captured} packets written, the file holds {records}")
    elif settled is not None and captured < settled[1]:   # written by its exit, it is whole
        problems.append(f"{target}: when the run ended the kernel had handed tcpdump {settled[1]} "
                        f"packets; it wrote {captured}")
    elif settled is None and received is not None and received != captured:   # no settled report
        problems.append(f"{target}: the kernel passed tcpdump {received} packets, it counted {captured}, "
                        f"the file holds {records}")
    elif received is not None and received > captured:
        log.debug("%s: %d packet(s) came after the run's end, not captured", target, received - captured)
    if dropped:
        problems.append(f"{target}: the kernel dropped {dropped} packets before tcpdump read them")
    return problems


def _untar(archive: bytes) -> dict[str, bytes]:
    """Regular files of a `docker cp` archive by base name."""
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            if member.isfile():
                handle = tar.extractfile(member)
                if handle is not None:
                    files[member.name.rsplit("/", 1)[-1]] = handle.read()
    return files
