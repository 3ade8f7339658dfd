"""`api-trace --lang`: the other language's calls set beside the Python programs' calls.

Pure: a finished run of the textbook programs in C or Java (lab.run.lang_trace) in, the api-trace
table out with two columns per traced host — the Python program's, then the other language's —
so each of the four programs' calls can be read across languages row by row.
"""
from __future__ import annotations

from typing import Any

from lab.observe.student_trace import trace_text
from lab.observe.trace import SocketCall, api_trace_columns, socket_calls

# A socket that is only opened, asked about and closed — never bound, connected, listened on or
# used to send or receive — is its runtime's own start-up probe (a JVM opens a dozen to learn what
# the kernel offers), not a call of the program the textbook writes.
PROBE_CALLS = frozenset({"socket", "setsockopt", "getsockopt", "close"})


def traced_in_language(record: Any) -> list[tuple[str, str, str]]:
    """(host, program, strace text) of each traced host of the scenario, from the supervisors' events.

    A server's trace is in its service events; a client's in its (single) run's events. A host
    whose supervisor sent no trace gets a column whose tracer error says so.
    """
    found = []
    for host in record.plan.scenario.hosts:
        if not host.trace:
            continue
        instance = record.plan.of_host(host.name)[0]
        if instance.role == "service":
            text = trace_text(record.service_events.get(instance.name, []))
        else:
            text = "".join(trace_text(run.events) or "" for run in record.clients_of(host.name)) or None
        found.append((host.name, host.program, text if text is not None else "strace: no trace was received\n"))
    return found


def beside(python: dict[str, Any], other: dict[str, Any], title: str, trace_notes: str = "") -> dict[str, Any]:
    """The api-trace table with each host's ``title`` column (e.g. C) right after its Python column.

    >>> py = {"tracer": "strace -f", "notes": "n", "columns": [{"host": "a", "title": "TCP server", "calls": []}]}
    >>> c = {"tracer": "strace -f", "notes": "n", "columns": [{"host": "a", "title": "TCP server", "calls": [1]}]}
    >>> [(col["title"], col["language"]) for col in beside(py, c, "C")["columns"]]
    [('TCP server · Python', 'Python'), ('TCP server · C', 'C')]
    """
    theirs = {column["host"]: column for column in other["columns"]}
    columns = []
    for column in python["columns"]:
        columns.append({**column, "title": f"{column['title']} · Python", "language": "Python"})
        if column["host"] in theirs:
            columns.append({**theirs.pop(column["host"]), "title": f"{column['title']} · {title}", "language": title})
    columns += [{**c, "title": f"{c['title']} · {title}", "language": title} for c in theirs.values()]
    notes = (f"{python['notes']} Each host's Python program, then the textbook's {title} program in the same "
             f"role (run under the student supervisor, traced by the same strace).")
    probes = [f"{c['host']} {c['runtime_calls_hidden']}" for c in other["columns"] if c.get("runtime_calls_hidden")]
    if probes:
        notes += (f" Not shown: the {title} runtime's own start-up sockets, opened, probed and closed unused "
                  f"({', '.join(probes)} calls).")
    if trace_notes:
        notes += f" {trace_notes}"
    return {**python, "columns": columns, "notes": notes}


def without_runtime_probes(calls: list[SocketCall]) -> tuple[list[SocketCall], int]:
    """The calls without the sockets a runtime opens and closes unused, and how many calls that hid.

    >>> probe = [SocketCall("socket", "AF_INET6, SOCK_STREAM", 5), SocketCall("close", "5", 0, fd=5)]
    >>> used = [SocketCall("socket", "AF_INET, SOCK_DGRAM", 5), SocketCall("sendto", "5", 3, fd=5),
    ...         SocketCall("close", "5", 0, fd=5)]
    >>> kept, hidden = without_runtime_probes(probe + used)
    >>> [c.name for c in kept], hidden
    (['socket', 'sendto', 'close'], 2)
    """
    lives: list[list[int]] = []
    open_lives: dict[int, list[int]] = {}
    for index, call in enumerate(calls):
        if call.name == "socket" and call.ok and call.ret is not None:
            open_lives[call.ret] = [index]
            lives.append(open_lives[call.ret])
        elif call.fd is not None and call.fd in open_lives:
            open_lives[call.fd].append(index)
            if call.name == "close":
                del open_lives[call.fd]
    probes = {i for life in lives if all(calls[j].name in PROBE_CALLS for j in life) for i in life}
    return [c for i, c in enumerate(calls) if i not in probes], len(probes)


def language_api_trace(record: Any) -> dict[str, Any]:
    """The api-trace table of a run of another language's programs, the runtime's probes set apart.

    Each column says how many calls of its runtime's start-up probes it does not show
    (``runtime_calls_hidden``).
    """
    traced = []
    hidden_by_host = {}
    for host, program, text in traced_in_language(record):
        calls, lookups = socket_calls(text)
        kept, hidden_by_host[host] = without_runtime_probes(calls)
        traced.append((host, program, text, kept, lookups))
    table = api_trace_columns(traced)
    for column in table["columns"]:
        column["runtime_calls_hidden"] = hidden_by_host[column["host"]]
    return table
