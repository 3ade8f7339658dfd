"""The class page as a browser shows it: headless chromium loads index.html, a probe counts the
rows, sorts by score with the page's own buttons, and lists every link, which must each lead to a
file the grade wrote. No engine needed: the class is graded from hand-made result documents."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlparse

from tests.integration.test_html_report import chromium
from tests.report_class import ABUSER, written_class

PROBE = """<script>
window.addEventListener("load", () => {
  const names = () => [...document.querySelectorAll("#class-rows tr")].map(r => r.dataset.student);
  const before = names();
  document.getElementById("sort-score").click();
  const byScore = names();
  const pre = document.createElement("pre");
  pre.id = "socklab-probe";
  pre.textContent = JSON.stringify({rows: before.length, before, byScore,
    links: [...document.querySelectorAll("#class a")].map(a => a.href),
    images: document.images.length, title: document.title,
    bars: document.querySelectorAll("#histogram rect.bar").length,
    failures: document.querySelectorAll("#common-failures tr").length - 1,
    sortedBy: document.getElementById("sorted-by").textContent});
  document.body.appendChild(pre);
});
</script>"""


def browse(page: Path, screenshot: Path | None = None) -> dict:
    probed = page.with_name("index.probe.html")
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            f"--user-data-dir={page.parent / '.chromium'}", "--window-size=1100,900"]
    result = subprocess.run([*base, "--dump-dom", probed.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="socklab-probe">(.*?)</pre>', result.stdout, re.S)
    assert found, f"the page did not load in chromium: {result.stderr[-2000:]}"
    if screenshot:
        subprocess.run([*base, f"--screenshot={screenshot}", page.as_uri()], capture_output=True, timeout=120)
    return json.loads(found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
                      .replace("&amp;", "&"))


def test_chromium_shows_a_row_per_student_sorts_and_every_link_leads_to_a_page(tmp_path):
    page = written_class(tmp_path / "grades")
    seen = browse(page, tmp_path / "class.png")
    assert seen["rows"] == 4 and seen["before"] == sorted(seen["before"]), seen
    assert seen["byScore"][0] == "ada" and seen["byScore"][-1] == ABUSER and seen["sortedBy"] == "score"
    assert len(seen["links"]) == 6
    for link in seen["links"]:
        url = urlparse(link)
        assert url.scheme == "file" and Path(unquote(url.path)).is_file(), link
    assert seen["images"] == 0 and seen["title"] == "socklab grades"   # the abuser's <img> never ran
    assert seen["bars"] == 10 and seen["failures"] >= 2
    assert (tmp_path / "class.png").stat().st_size > 5000
