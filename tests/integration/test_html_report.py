"""The HTML report as a browser shows it: headless chromium loads the page, and a probe counts
what it laid out — decoded plot images, the chart's SVG and its arrows with a real size.

The report itself has no script: the probe is appended to a copy of the page, in the same
directory, and writes its counts into the DOM that `--dump-dom` prints after load.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"
from tests.report_samples import tcp_loss_record, udp_loss_record, written_report  # noqa: E402  (tests/)

PROBE = """<script>
window.addEventListener("load", () => {
  const svg = document.querySelectorAll("#sequence-chart svg");
  const arrows = [...document.querySelectorAll("#sequence-chart svg g.arrow")]
    .filter(a => { const box = a.getBBox(); return box.width > 0 || box.height > 0; });
  const images = [...document.images].map(i => ({src: i.src.slice(0, 22), width: i.naturalWidth,
                                                 shown: i.getBoundingClientRect().width}));
  const pre = document.createElement("pre");
  pre.id = "socklab-probe";
  pre.textContent = JSON.stringify({svg: svg.length, arrows: arrows.length, images,
                                    verdict: document.getElementById("verdict").textContent});
  document.body.appendChild(pre);
});
</script>"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    if IN_CI:
        pytest.fail("CI=true but no chromium: ./bootstrap installs it")
    pytest.skip("no chromium (apt-get install chromium)")


def browse(page: Path) -> dict:
    """What chromium laid out for `page`, counted by the probe."""
    probed = page.with_name(page.stem + ".probe.html")
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    result = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", f"--user-data-dir={page.parent / '.chromium'}", "--virtual-time-budget=10000",
         "--window-size=1200,2000", "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="socklab-probe">(.*?)</pre>', result.stdout, re.S)
    assert found, f"the page did not load in chromium: {result.stderr[-2000:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def test_chromium_shows_the_chart_arrows_and_the_plot(tmp_path):
    """A udp-loss result with a small hand-made chart (three arrows) and its real plot."""
    _, page = written_report(tmp_path, udp_loss_record())
    seen = browse(page)
    assert seen["svg"] == 1 and seen["arrows"] == 3, seen
    assert len(seen["images"]) == 1 and seen["images"][0]["src"].startswith("data:image/png")
    assert seen["images"][0]["width"] == 1000 and seen["images"][0]["shown"] > 500, seen
    assert "udp-loss: PASSED" in seen["verdict"]


def test_a_page_without_a_chart_still_shows_its_plot(tmp_path):
    _, page = written_report(tmp_path, tcp_loss_record(), chart=False)
    seen = browse(page)
    assert seen["svg"] == 0 and [i["width"] for i in seen["images"]] == [1000], seen


@pytest.mark.integration
def test_a_real_udp_loss_run_writes_a_page_with_its_plot(engine, built_images, no_leftovers, tmp_path):
    result = subprocess.run([sys.executable, "-m", "invoke", "scenario", "udp-loss", "--count", "60",
                             "--report-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    document = json.loads((tmp_path / "udp-loss.json").read_text())
    assert {"udp-loss.rtt-by-seq.png", "udp-loss.html"} <= set(document["artifacts"])
    for name in document["artifacts"]:
        assert (tmp_path / name).is_file(), name
    seen = browse(tmp_path / "udp-loss.html")
    assert [i["width"] for i in seen["images"]] == [1000], seen
    assert ("PASSED" if document["passed"] else "FAILED") in seen["verdict"]


@pytest.mark.integration
def test_a_real_tcp_handshake_page_shows_every_arrow_of_its_chart(engine, built_images, no_leftovers, tmp_path):
    """The chart lab.report.sequence_chart drew from the real capture, laid out by the browser."""
    result = subprocess.run([sys.executable, "-m", "invoke", "scenario", "tcp-handshake", "--report-dir",
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    document = json.loads((tmp_path / "tcp-handshake.json").read_text())
    assert "tcp-handshake.sequence.svg" in document["artifacts"]
    seen = browse(tmp_path / "tcp-handshake.html")
    # SYN, SYN/ACK, ACK, data and ACK each way, two FINs and their ACKs: ten packets at least.
    assert seen["svg"] == 1 and seen["arrows"] == document["sequence_chart"]["arrows"] >= 10, seen
