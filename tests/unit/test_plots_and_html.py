"""Plots from what the clients measured, and the self-contained HTML page (no Docker)."""
from __future__ import annotations

import base64
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from lab.report.document import result_document

from lab.report import html as html_report

from lab.report import plots

from lab import catalog
from lab.checks import run_checks
from lab.errors import ScenarioFileError
from lab.scenario.model import PlotSpec
from lab.checks.outcome import Outcome
from tests.report_samples import tcp_loss_record, udp_delay_record, udp_loss_record, written_report

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_plot_figures_come_from_the_events():
    data = plots.rtt_by_seq_data(udp_loss_record())
    assert data.lost == [3, 7] and [s for s, _ in data.rtts] == [1, 2, 4, 5, 6, 8, 9, 10]
    deliveries = plots.bytes_over_time_data(tcp_loss_record(), ("clean-client", "client"))
    assert [d.label for d in deliveries] == ["clean-client (no impairment)", "client (loss 10%)"]
    assert deliveries[1].points[-1] == (0.22, 4096)
    spread = plots.rtt_distribution_data(udp_delay_record())
    assert spread.delay_ms == 50 and spread.jitter_ms == 5 and spread.baseline == [0.3, 0.35, 0.4]


def test_the_three_scenarios_ask_for_their_plots():
    assert [p.plot for p in catalog.load("udp-loss").plots] == ["rtt_by_seq"]
    assert [p.plot for p in catalog.load("udp-delay").plots] == ["rtt_distribution"]
    assert [p.plot for p in catalog.load("tcp-loss").plots] == ["bytes_over_time"]


def test_an_unknown_plot_argument_or_host_is_a_scenario_file_error():
    hosts = ("server", "client")
    with pytest.raises(ScenarioFileError, match="unknown plot 'pie'"):
        plots.validate_spec(PlotSpec("pie"), "x.toml", hosts)
    with pytest.raises(ScenarioFileError, match="takes no colour"):
        plots.validate_spec(PlotSpec("rtt_by_seq", {"colour": "red"}), "x.toml", hosts)
    with pytest.raises(ScenarioFileError, match="clients 'clean' is no host"):
        plots.validate_spec(PlotSpec("bytes_over_time", {"clients": ["client", "clean"]}), "x.toml", hosts)


@pytest.mark.parametrize("record", [udp_loss_record, tcp_loss_record, udp_delay_record])
def test_each_plot_is_a_png_in_the_report_directory(record, tmp_path):
    written = plots.draw(record(), tmp_path)
    assert len(written) == 1 and written[0].parent == tmp_path
    assert written[0].read_bytes().startswith(PNG_MAGIC) and written[0].stat().st_size > 10_000


def test_events_a_plot_cannot_use_are_left_out():
    """A student's program may print anything: odd fields never break the report."""
    record = udp_loss_record()
    record.clients[0].events += [{"event": "received", "seq": "x", "rtt_ms": 1.0},
                                 {"event": "received", "seq": 11, "rtt_ms": None},
                                 {"event": "summary", "lost_seqs": "3,7"}]
    data = plots.rtt_by_seq_data(record)
    assert data.lost == [3, 7] and len(data.rtts) == 8
    tcp = tcp_loss_record()
    tcp.clients[1].events.insert(0, {"event": "progress", "seconds": "soon"})
    assert len(plots.bytes_over_time_data(tcp, ("client",))[0].points) == 4


def test_a_plot_without_data_is_left_out(tmp_path):
    record = udp_loss_record()
    record.clients = []
    assert plots.draw(record, tmp_path) == [] and list(tmp_path.iterdir()) == []


def test_loading_scenarios_does_not_import_matplotlib():
    """`invoke scenario` starts fast: matplotlib only comes in when a plot is drawn."""
    code = ("import sys; from lab import app, catalog; from lab.report import document, files, result_console; "
            "[catalog.load(n) for n in catalog.available()]; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


class Page(HTMLParser):
    """Counts what a browser would show: tags, images and where their sources point."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if tag == "img":
            self.images.append(values.get("src") or "")
        if tag == "a":
            self.links.append(values.get("href") or "")

    def handle_data(self, data: str) -> None:
        self.text += data


def test_the_html_page_holds_verdict_checks_chart_plots_and_pcap_links(tmp_path):
    document, path = written_report(tmp_path, udp_loss_record())
    assert "udp-loss.html" in json.loads((tmp_path / "udp-loss.json").read_text())["artifacts"]
    page = Page()
    page.feed(path.read_text())
    assert "udp-loss: PASSED" in page.text
    for check in document["checks"]:
        assert check["name"] in page.text
    # Self-contained: the plot is inside the page, the chart is inline SVG, only pcaps are links.
    assert len(page.images) == 1 and page.images[0].startswith("data:image/png;base64,")
    assert base64.b64decode(page.images[0].split(",", 1)[1]).startswith(PNG_MAGIC)
    assert page.tags.count("svg") == 1 and page.tags.count("line") >= 3
    assert "<?xml" not in path.read_text()
    assert "udp-loss.client.eth0.pcap" in page.links and "18 packets" in page.text


def test_program_and_user_text_is_escaped(tmp_path):
    record = udp_loss_record()
    hostile = "<script>alert(1)</script>"
    record.clients[0].events[0]["text"] = hostile  # what a program printed
    document = result_document(Outcome(record, run_checks(record), "2026-11-26T00:00:00Z", 3.2))
    document["checks"].append({"name": "<b>name</b>", "passed": False, "detail": hostile})
    document["parameters"]["message"] = '"><img src=x onerror=alert(1)>'
    text = html_report.render(document, tmp_path)
    assert "<script>" not in text and "<img src=x" not in text and "<b>name</b>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_a_file_that_is_no_svg_is_never_pasted_into_the_page(tmp_path):
    (tmp_path / "udp-loss.sequence.svg").write_text("<script>alert(1)</script>")
    document = result_document(Outcome(udp_loss_record(), [], "", 1.0))
    document["artifacts"].append("udp-loss.sequence.svg")
    assert "<script>alert" not in html_report.render(document, tmp_path)
