"""The class page of `invoke grade` without a browser: its cells, links, failures, histogram, escaping."""
from __future__ import annotations

import doctest
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

from lab.report import class_page
from tests.report_class import ABUSER, written_class


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.tags: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name == "href" and value:
                self.links.append(value)
            if name in ("src", "href") and value and re.match(r"[a-z]+:", value):
                self.external.append(value)


def test_doctests():
    assert doctest.testmod(class_page).failed == 0


def test_index_links_every_run_to_its_page_and_nothing_outside(tmp_path):
    page = written_class(tmp_path)
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    assert len(parser.links) == 6   # 6 runs with a document; n/a and the error cell link nowhere
    for link in parser.links:
        assert (tmp_path / unquote(link)).is_file(), link
        assert (tmp_path / unquote(link)).resolve().is_relative_to(tmp_path.resolve())
    assert parser.external == [] and "img" not in parser.tags and parser.tags.count("script") == 1


def test_the_abuser_name_is_text_only(tmp_path):
    text = written_class(tmp_path).read_text(encoding="utf-8")
    assert ABUSER not in text and "<img" not in text and "<script>alert" not in text
    assert "&lt;img src=x onerror=&quot;document.title=1&quot;&gt;" in text


def test_common_failures_and_scores(tmp_path):
    text = written_class(tmp_path).read_text(encoding="utf-8")
    failures = text.split('id="common-failures"')[1].split("</table>")[0]
    first = re.findall(r"<tr><td>(.*?)</td><td class=\"num\">(\d+)</td><td class=\"students\">(.*?)</td>", failures)
    assert first[0][:2] == ("replies are the sentence in upper case", "3")
    assert "bob, cy" in first[0][2]
    assert 'data-student="ada" data-score="1.0000"' in text
    assert text.count('class="bar"') == class_page.HISTOGRAM_BINS


def test_page_link_never_leaves_the_folder():
    assert class_page.page_link("../..", "x.html") == "..%2F../x.html"   # one segment, not two steps up
    assert class_page.page_link("_..", "a b.html") == "_../a%20b.html"
