"""The backlog lesson (tcp-backlog): an iterative server serves a burst in turn, a threaded one at
once, and a SYN that finds the accept queue full is retransmitted after ~1 s.
"""
from __future__ import annotations

from dataclasses import dataclass

from lab.checks.reading import duration_ms, ran_clients
from lab.checks.registry import CheckResult, HostName, OptionalParamName, ParamName, check
from lab.run.record import RunRecord

@dataclass(frozen=True)
class Turn:
    """One client of a burst, in the order the server accepted it."""

    place: int                 # 1 = accepted first
    instance: str
    started: float             # when its connect() began (epoch s)
    handshake_ms: float        # how long connect() took
    replied: float | None      # when its reply arrived (None: never)
    local: tuple[str, int]

    @property
    def wait_ms(self) -> float | None:
        return None if self.replied is None else (self.replied - self.started) * 1000


def turns(record: RunRecord, server: HostName = "server", clients: HostName = "client") -> list[Turn]:
    """The clients in the server's accept() order, with their connect start and reply times.

    A client is matched to its `accepted` event by its socket address (the server's `client` is
    the client's `local`); clients the server never accepted come last, in their own order.
    """
    accepted = [tuple(e["client"]) for e in record.events_of_host(server) if e.get("event") == "accepted"]
    runs = []
    for run in ran_clients(record, clients):
        connected, received = run.first("connected"), run.first("received")
        if connected is None:
            runs.append((len(accepted) + len(runs), run, None, None))
            continue
        local = tuple(connected["local"])
        place = accepted.index(local) if local in accepted else len(accepted) + len(runs)
        runs.append((place, run, connected, received))
    result = []
    for place, (_, run, connected, received) in enumerate(sorted(runs, key=lambda r: r[0]), start=1):
        handshake = float(connected["handshake_ms"]) if connected else 0.0
        started = connected["t"] - handshake / 1000 if connected else run.started
        result.append(Turn(place, run.instance, started, handshake,
                           received["t"] if received else None,
                           tuple(connected["local"]) if connected else ("", 0)))  # type: ignore[arg-type]
    return result


def _turns_text(found: list[Turn]) -> str:
    return ", ".join(f"{t.place}. {t.instance} {t.wait_ms:.0f} ms" if t.wait_ms is not None
                     else f"{t.place}. {t.instance} no reply" for t in found)


def _mode(record: RunRecord, mode_param: str) -> str:
    return str(record.plan.parameters.get(mode_param, "iterative"))


def _open_at_once(record: RunRecord, server: HostName) -> int:
    """The most connections the server had open at the same time (from accepted/closed events)."""
    edges = sorted([(e["t"], 1) for e in record.events_of_host(server) if e.get("event") == "accepted"]
                   + [(e["t"], -1) for e in record.events_of_host(server) if e.get("event") == "closed"],
                   key=lambda edge: (edge[0], edge[1]))
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


@check("tcp_served_in_turn")
def tcp_served_in_turn(record: RunRecord, server: HostName = "server", clients: HostName = "client",
                       hold_param: ParamName = "hold", mode_param: OptionalParamName = "server_mode") -> CheckResult | None:
    """Iterative server: clients that arrive at once are served one after another, each reply at
    least one hold after the one before, so each client's wait grows with its place in the queue."""
    if _mode(record, mode_param) != "iterative":
        return None
    hold = duration_ms(record, hold_param)
    found = turns(record, server, clients)
    replied = [t for t in found if t.replied is not None]
    # The gaps between replies on the server's own clock when it says when it sent them: a client
    # that a busy machine schedules late reads its reply late and would shorten the next gap.
    sent = sorted(e["t"] for e in record.events_of_host(server) if e.get("event") == "sent")
    reply_times, clock = ((sent, "sent by the server") if sent else
                          ([t.replied for t in replied], "received by the clients"))
    gaps = [(b - a) * 1000 for a, b in zip(reply_times, reply_times[1:])]  # type: ignore[operator]
    waits = [t.wait_ms for t in replied]
    spread = (max(t.started for t in found) - min(t.started for t in found)) * 1000
    growing = all(b > a for a, b in zip(waits, waits[1:]))  # type: ignore[operator]
    at_once = _open_at_once(record, server)
    late = [f"{r.instance} {s['late_ms']:.0f} ms" for r in ran_clients(record, clients)
            if (s := r.first("start")) and s.get("late_ms", 0) > 50]
    ok = (len(replied) == len(found) and at_once == 1 and all(g >= 0.9 * hold for g in gaps) and growing)
    detail = (f"waits by place in the queue: {_turns_text(found)}; replies {', '.join(f'{g:.0f}' for g in gaps)} ms "
              f"apart ({clock}; each ≥ 0.9 × hold {hold:g} ms expected); at most {at_once} connection(s) open at "
              f"once; clients began connect() within {spread:.0f} ms of each other"
              + (f" (ready after the common start moment, on a busy machine: {', '.join(late)})"
                 if late else ""))
    return CheckResult("served one after another: each wait grows with the place in the queue", ok, detail)


@check("tcp_waits_overlap")
def tcp_waits_overlap(record: RunRecord, server: HostName = "server", clients: HostName = "client",
                      hold_param: ParamName = "hold", mode_param: OptionalParamName = "server_mode") -> CheckResult | None:
    """Threaded server: the clients are served at the same time, so once connected nobody waits for
    another's turn: each reply comes about one hold after the client's send()."""
    if _mode(record, mode_param) != "threaded":
        return None
    hold = duration_ms(record, hold_param)
    found = turns(record, server, clients)
    served = {run.instance: (run.first("received") or {}).get("rtt_ms") for run in ran_clients(record, clients)}
    at_once = _open_at_once(record, server)
    ok = all(ms is not None and ms < 2 * hold for ms in served.values()) and at_once >= 2
    shown = ", ".join(f"{name} {ms:.0f} ms" if ms is not None else f"{name} no reply"
                      for name, ms in served.items())
    detail = (f"send() to reply: {shown} (each < 2 × hold = {2 * hold:g} ms expected: no client waited "
              f"for another's turn); up to {at_once} connections open at once; waits from connect(): "
              f"{_turns_text(found)}")
    return CheckResult("threaded server: the clients' waits overlap", ok, detail)


@dataclass(frozen=True)
class LateSyn:
    """A client whose first SYN went unanswered and whose retransmission got through."""

    instance: str
    first: float
    retransmitted_after_s: float
    answered: bool


def late_syns(record: RunRecord, server: HostName, clients: HostName) -> list[LateSyn] | None:
    """From the server's capture: clients that sent their SYN more than once (None: no capture)."""
    captures = record.captures
    instances = [i.name for i in record.plan.of_host(server)]
    if captures is None or not any(captures.of(i) for i in instances):
        return None
    packets = [p for i in instances for p in captures.packets_of(i)]
    owner = {t.local: t.instance for t in turns(record, server, clients)}
    found = []
    for (ip, port), instance in owner.items():
        syns = [p for p in packets if p.proto == "tcp" and p.src == ip and p.sport == port
                and p.has("SYN") and not p.has("ACK")]
        if len(syns) < 2:
            continue
        answers = [p for p in packets if p.proto == "tcp" and p.dst == ip and p.dport == port
                   and p.has("SYN", "ACK")]
        first_answered = any(syns[0].time <= a.time < syns[1].time for a in answers)
        found.append(LateSyn(instance, syns[0].time, syns[1].time - syns[0].time,
                             not first_answered and any(a.time >= syns[1].time for a in answers)))
    return found


@check("tcp_late_syn")
def tcp_late_syn(record: RunRecord, server: HostName = "server", clients: HostName = "client",
                 backlog_param: OptionalParamName = "backlog", mode_param: OptionalParamName = "server_mode") -> CheckResult | None:
    """A SYN that finds the accept queue full is dropped without an answer; the client's TCP sends
    it again after its initial retransmission timeout (1 s), and connect() takes that long.

    Linux queues up to backlog + 1 finished handshakes, so with an iterative server busy with one
    client, the (backlog + 3)-th client of a burst finds the queue full.
    """
    iterative = _mode(record, mode_param) == "iterative"
    backlog = int(record.plan.parameters.get(backlog_param, 1))
    found_turns = turns(record, server, clients)
    fit = backlog + 2
    # A threaded server empties the queue as fast as it can accept(): a burst may still overflow it.
    expected = len(found_turns) > fit if iterative else None
    slow = [t for t in found_turns if t.handshake_ms >= 800]
    seen = late_syns(record, server, clients)
    queue = (f"listen({backlog}) queues {backlog + 1} finished handshakes while the server serves one, "
             f"so {fit} of {len(found_turns)} clients fit" if iterative else
             f"threaded server, listen({backlog}): a burst may overflow the queue before accept() runs")
    if seen is None:  # no capture: the clients' connect() times tell it
        ok = expected in (None, bool(slow)) and all(t.handshake_ms < 1600 for t in slow)
        named = ", ".join(f"{t.instance} connect() took {t.handshake_ms:.0f} ms" for t in slow) or "none"
        return CheckResult("a SYN that finds the accept queue full is retransmitted after ~1 s", ok,
                           f"{queue}; late connects (no capture, from the clients' connect() times): {named}")
    good = [s for s in seen if s.answered and 0.8 <= s.retransmitted_after_s <= 1.6]
    handshakes = {t.instance: t.handshake_ms for t in found_turns}
    named = "; ".join(
        f"{s.instance}: first SYN got no SYN/ACK (queue full), sent again {s.retransmitted_after_s:.2f} s "
        f"later{' and answered' if s.answered else ', still unanswered'}; its connect() took "
        f"{handshakes.get(s.instance, 0):.0f} ms" for s in seen) or "no SYN was sent twice"
    ok = (expected in (None, bool(seen)) and len(good) == len(seen)
          and all(handshakes.get(s.instance, 0) >= s.retransmitted_after_s * 1000 * 0.95 for s in seen))
    return CheckResult("a SYN that finds the accept queue full is retransmitted after ~1 s", ok,
                       f"{queue}; in the server's capture: {named}")
