"""A run's result on the console: measured figures, impairment counters, the API trace, captures
and TCP timelines, the checks with their hints, and the verdict. Drawn from the result document."""
from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from lab.escaping import terminal
from lab.report.console import console
from lab.report.document import TIMELINE_ROWS, trace_rows, verdict_line


def print_outcome(document: dict[str, Any]) -> None:
    """Everything the result document says, as tables and a coloured verdict line."""
    hosts = document["metrics"].get("hosts", {})
    if hosts:
        figures = Table(title="Measured by the clients", title_justify="left")
        for column in ("host", "sent", "received", "loss", "RTT p50", "RTT p95", "goodput", "retransmits"):
            figures.add_column(column, justify="left" if column == "host" else "right")
        for host, f in hosts.items():
            rtt = f.get("rtt_ms") or {}
            transfer = f.get("transfer") or {}
            if transfer:  # a bulk TCP transfer: one message each way, bytes are what matter
                sent, received, loss = f"{transfer['bytes']} B", "intact" if transfer["intact"] else "CORRUPT", "–"
                rtt = {}  # the wait for the digest after the upload is no round-trip time
            else:
                sent, received, loss = str(f["sent"]), str(f["received"]), f"{f['loss_rate']:.1%}"
            figures.add_row(escape(host), sent, received, loss,
                            f"{rtt['p50']:.2f} ms" if rtt else "–", f"{rtt['p95']:.2f} ms" if rtt else "–",
                            f"{transfer['goodput_mbit_s']:.1f} Mbit/s" if transfer else "–",
                            str(f["retrans_segs"]) if "retrans_segs" in f else "–")
        console().print(figures)
    for where, counted in document.get("impairment_counters", {}).items():
        shown = ", ".join(f"{k} {v}" for k, v in counted.items() if v)
        console().print(f"[dim]{document['impairment_backend']} on {escape(where)}: {escape(shown or 'nothing counted')}[/dim]")
    if document.get("api_trace"):
        print_api_trace(document["api_trace"])
    _print_side_by_side(document)
    _print_captures(document)
    table = Table(title="Checks", title_justify="left")
    table.add_column("", width=2)
    table.add_column("check")
    table.add_column("what was expected and seen", overflow="fold")
    for check in document["checks"]:
        mark = "[green]✔[/green]" if check["passed"] else "[red]✘[/red]"
        detail = terminal.text(check["detail"])
        if check.get("hint"):
            detail += f"\n[yellow]hint: {terminal.text(check['hint'])}[/yellow]"
        table.add_row(mark, terminal.text(check["name"]), detail)
    for check in document.get("not_applicable", []):
        table.add_row("–", terminal.text(check["name"]), f"[dim]not applicable: {terminal.text(check['reason'])}[/dim]")
    console().print(table)
    for role, ran in document.get("programs", {}).items():
        if ran.get("program") == "student":
            console().print(f"[dim]{role}: student's {terminal.text(ran['file'])} on host {escape(ran['host'])}[/dim]")
    colour = "green" if document["passed"] else "red"
    console().print(f"[bold {colour}]{escape(verdict_line(document))}[/bold {colour}]")



def _print_side_by_side(document: dict[str, Any]) -> None:
    """A student's socket calls beside the reference's (lab.report.side_by_side), and what differs."""
    from lab.report import side_by_side

    for role, shown in (document.get("student_trace") or {}).items():
        table = Table(title=f"{side_by_side.TITLE} (your {role})", title_justify="left")
        for column in (f"your {role}", f"the reference {role}", ""):
            table.add_column(escape(column), overflow="fold")
        for row in side_by_side.terminal_rows(shown):
            table.add_row(*(terminal.text(cell) for cell in row))
        console().print(table)
        for difference in shown.get("differences", []):
            console().print(f"[yellow]≠ {terminal.text(difference)}[/yellow]")


def print_api_trace(api: dict[str, Any]) -> None:
    """The socket calls of each traced program side by side, as the unit's 10-mark answer."""
    titles, rows = trace_rows(api)
    table = Table(title=f"Socket calls seen by {api['tracer']}, in order", title_justify="left")
    for title in titles:
        table.add_column(escape(title), overflow="fold")
    for row in rows:
        table.add_row(*(terminal.text(cell) for cell in row))
    console().print(table)
    for column in api["columns"]:
        if column["tracer_error"]:
            console().print(f"[red]{escape(column['host'])}: {escape(column['tracer_error'])}[/red]")
    # With --lang a host has a column per language: the title (e.g. "TCP client · C") tells them apart.
    hidden = [f"{c['title'] + ' ' if c.get('language') else ''}{c['host']} {c['name_lookup_calls_hidden']}"
              for c in api["columns"] if c["name_lookup_calls_hidden"]]
    if hidden:
        console().print(f"[dim]calls of the C library's name lookup (gethostbyname) not shown: {escape(', '.join(hidden))}[/dim]")
    console().print(f"[dim]{escape(api['notes'])}[/dim]")



def _print_captures(document: dict[str, Any]) -> None:
    """Which pcaps, what they say was lost, and each TCP connection's timeline."""
    if "captures" not in document:
        return
    for c in document["captures"]:
        where = c["file"] if c["kept"] else "decoded, not kept: add --report-dir DIR to keep the pcaps"
        view = "sent by its sockets" if c["view"] == "sent" else "on the wire"
        console().print(f"[dim]capture {escape(c['instance'])} {escape(c['interface'])} ({view}): "
                      f"{c['packets']} packets — {escape(where)}[/dim]")
    for loss in document.get("capture_losses", []):
        console().print(escape(loss["text"]))
    for connection in document.get("tcp_connections", []):
        table = Table(title=f"TCP connection {connection['client']} → {connection['server']}: "
                            f"{connection['closed_first'] or 'nobody'} closed first", title_justify="left")
        for column in ("ms", "host", "packet / event", "call / detail"):
            table.add_column(column, justify="right" if column == "ms" else "left")
        for row in connection["timeline"][:TIMELINE_ROWS]:
            what = escape(row["what"]) if row["kind"] == "packet" else f"[italic]{escape(row['what'])}[/italic]"
            table.add_row(f"{row['ms']:.3f}", escape(row["host"]), what, escape(row["detail"]))
        console().print(table)
        if len(connection["timeline"]) > TIMELINE_ROWS:
            console().print(f"[dim]… {len(connection['timeline']) - TIMELINE_ROWS} more rows "
                          "(tcp_connections in the JSON result)[/dim]")

