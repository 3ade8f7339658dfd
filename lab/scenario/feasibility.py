"""Whether a plan can teach anything, and how long it will take — decided before anything exists.

Pure arithmetic over a plan's clients (their argv and the impairments on their path):
- a reply that needs longer than the client waits for it is always "lost": a run with
  ``--delay 10s`` against a 2 s timeout would wait 100 × 2 s to report nothing, so it is refused
  with the arithmetic (bad input, exit 2), and the message says which option to raise;
- a UDP datagram carries at most 65,507 bytes of data (65,535 − 8 UDP − 20 IPv4 header bytes);
- a run whose shortest possible duration exceeds the scenario's time limit is refused too;
- the expected duration is estimated so that a long run says so up front.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from lab.errors import ParameterError
from lab.impairment.spec import Impairment
from lab.scenario.plan import Instance, Plan

MAX_UDP_PAYLOAD = 65_507
UDP_IP_HEADERS = 28        # IPv4 (20) + UDP (8)
TCP_PACKET_BYTES = 1500    # a full segment on the lab's Ethernet MTU
BASE_RTT_MS = 1.0          # what the lab's bridge adds to a round trip, allowed for in the arithmetic
START_UP_S = 3.0           # topology up, services ready, checks and teardown of a small lab
CLIENT_DEFAULT_TIMEOUT_S = {"udp-client": 1.0, "tcp-client": 5.0}   # the programs' own defaults


@dataclass(frozen=True)
class PathDelay:
    """The delay one client's round trip gets from the impairments on its path, in ms."""

    delay_ms: float
    jitter_ms: float
    loss: float           # chance that a datagram or its reply is lost, 0..1
    where: tuple[str, ...]
    rates_bit: tuple[int, ...] = ()   # one entry per rate-limited direction on the path

    def serialisation_ms(self, ip_bytes: int) -> float:
        """Time to put one packet of ip_bytes on each rate-limited link of the round trip."""
        return sum(ip_bytes * 8 / rate * 1000 for rate in self.rates_bit)


def option(argv: Sequence[str], name: str, default: str | None = None) -> str | None:
    """The value of ``--name VALUE`` in a program's argv (the last one wins, as in argparse)."""
    value = default
    for position, word in enumerate(argv[:-1]):
        if word == name:
            value = argv[position + 1]
    return value


def path_delay(plan: Plan, client: Instance) -> PathDelay:
    """Delay, jitter and loss a client's exchange meets: its own impairments, and the server's.

    A client's egress delays its request and its ingress the reply; the server's are the other
    way round. Either way each impaired direction adds its delay once to the round trip.
    """
    server = option(client.argv, "--host")
    path = list(client.impairments)
    labels = [f"{client.name} {i.direction}" for i in client.impairments]
    for other in plan.instances:
        if server is not None and other.host == server:
            path += other.impairments
            labels += [f"{other.name} {i.direction}" for i in other.impairments]
    delay = sum(_directions(i) * i.delay_ms for i in path)
    jitter = sum(_directions(i) * i.jitter_ms for i in path)
    kept = 1.0
    for impairment in path:
        kept *= (1 - impairment.loss_pct / 100) ** _directions(impairment)
    rates = tuple(i.rate_bit for i in path if i.rate_bit for _ in range(_directions(i)))
    return PathDelay(delay, jitter, 1 - kept, tuple(labels), rates)


def packet_bytes(client: Instance) -> int:
    """The IP size of one request: the udp client's datagram, or a full TCP segment."""
    if client.program == "udp-client":
        return _datagram_bytes(client) + UDP_IP_HEADERS
    return TCP_PACKET_BYTES


def _directions(impairment: Impairment) -> int:
    return 2 if impairment.direction == "both" else 1


def _clients(plan: Plan) -> list[Instance]:
    return [i for i in plan.instances if i.program in CLIENT_DEFAULT_TIMEOUT_S]


def _number(client: Instance, name: str, default: float) -> float:
    """A numeric option of a client's argv; its default when absent or not a number (a program
    other than ours may read its options differently: the arithmetic then assumes the default)."""
    try:
        return float(option(client.argv, name, None) or default)
    except ValueError:
        return default


def _timeout_s(client: Instance) -> float:
    return _number(client, "--timeout", CLIENT_DEFAULT_TIMEOUT_S[client.program])


def check(plan: Plan) -> None:
    """Refuse a plan whose replies cannot arrive in time, whose datagrams cannot exist, or that
    cannot finish within the scenario's time limit (ParameterError: exit 2, nothing created)."""
    for client in _clients(plan):
        if client.program == "udp-client":
            _check_datagram(client)
        path = path_delay(plan, client)
        timeout_s = _timeout_s(client)
        serialisation = path.serialisation_ms(packet_bytes(client))
        worst = path.delay_ms + path.jitter_ms + serialisation + BASE_RTT_MS
        if (path.delay_ms or serialisation) and worst >= timeout_s * 1000:
            on_wire = f" + {serialisation:.6g} ms on the rate-limited link" if serialisation else ""
            raise ParameterError(
                f"{client.name} waits --timeout {timeout_s:g} s for each reply, but a reply needs up to "
                f"delay {path.delay_ms:g} ms + jitter {path.jitter_ms:g} ms{on_wire} + base RTT "
                f"~{BASE_RTT_MS:g} ms = {worst:.6g} ms ({', '.join(path.where)}), and a reply that comes "
                f"after the timeout counts as lost. Raise --timeout above {math.ceil(worst) / 1000:g} s, "
                "or lower --delay/--jitter (or raise --rate)")
    shortest = minimum_seconds(plan)
    if shortest > plan.scenario.timeout_s:
        raise ParameterError(
            f"this run needs at least {shortest:.0f} s (every datagram waits its round trip, every byte "
            f"its turn on a rate-limited link), more than scenario {plan.scenario.name}'s time limit of "
            f"{plan.scenario.timeout_s:.0f} s; send less or wait less (e.g. lower --count, --payload or "
            "--delay, or raise --rate)")


def _datagram_bytes(client: Instance) -> int:
    """The udp client's largest datagram: "seq=N " and its message."""
    message = option(client.argv, "--message", "") or ""
    count = int(_number(client, "--count", 1))
    return len(f"seq={max(count, 1)} {message}".encode())


def _check_datagram(client: Instance) -> None:
    message = option(client.argv, "--message", "") or ""
    size = _datagram_bytes(client)
    if size > MAX_UDP_PAYLOAD:
        raise ParameterError(
            f"{client.name}'s datagram would carry {size:,} bytes (\"seq=N \" + --message of "
            f"{len(message.encode()):,} bytes), but a UDP datagram carries at most {MAX_UDP_PAYLOAD:,} "
            "bytes of data; send a shorter --message")


def _client_seconds(plan: Plan, client: Instance, expected: bool) -> float:
    """One client's run: every datagram's round trip, plus (expected) the timeouts of lost ones."""
    path = path_delay(plan, client)
    if client.program != "udp-client":   # a TCP transfer: its bytes through the slowest link
        payload = _number(client, "--payload-bytes", 0)
        return payload * 8 / min(path.rates_bit) if path.rates_bit else 0.0
    count = _number(client, "--count", 1)
    interval = _number(client, "--interval", 0)
    rtt_s = (path.delay_ms + path.serialisation_ms(packet_bytes(client)) + BASE_RTT_MS) / 1000
    per_datagram = rtt_s if not expected else (1 - path.loss) * rtt_s + path.loss * _timeout_s(client)
    return count * (per_datagram + interval)


def _steps_seconds(plan: Plan, expected: bool) -> float:
    """Clients of a sequential step add up; of a parallel step, the longest counts."""
    total = 0.0
    for step in plan.scenario.steps:
        if step.action != "run":
            continue
        times = [_client_seconds(plan, i, expected) for h in step.hosts for i in plan.of_host(h)
                 if i.program in CLIENT_DEFAULT_TIMEOUT_S]
        total += (max(times, default=0.0) if step.mode == "parallel" else sum(times))
    return total


def minimum_seconds(plan: Plan) -> float:
    """The shortest the clients can take: every datagram answered after its round trip."""
    return _steps_seconds(plan, expected=False)


def expected_seconds(plan: Plan) -> float:
    """About how long the run takes, lost datagrams waiting out their timeouts."""
    return START_UP_S + _steps_seconds(plan, expected=True)
