"""lab.escaping: each format's escaping, checked by that format's real parser.

Markdown is rendered by markdown-it-py in its GitHub-like preset (tables, raw HTML and bare-URL
autolinks on, as in a job summary); XML by ElementTree; CSV by the csv module; HTML by html.parser.
"""
from __future__ import annotations

import csv
import doctest
import html.parser
import io
from xml.etree import ElementTree

import pytest
from markdown_it import MarkdownIt

from lab.report.junit import junit_xml

from lab.grading import classroom
from lab.escaping import html_text, markdown, spreadsheet, terminal, text, xml_text

# What students put in names and output (tests/integration/test_abusers_class.py grades them).
HOSTILE = [
    "![x](http://evil/x.png)",
    "<img src=x onerror=alert(1)>",
    "[ok](javascript:alert(1))",
    "| ✅ PASSED | all | 100 |",
    "http://evil.example/steal www.evil.example a@evil.example",
    "<script>alert(1)</script>",
    "**bold** _it_ `code` ~~del~~ # heading",
    "line one\n| ✅ | forged row |\n\n# Heading\n<div>",
    "`` ` ``` ```` <b>",
    "=HYPERLINK(\"http://evil\",\"x\")",
    "\x1b[31mred\x1b[0m \x1b]0;title\x07 bell\x07 nul\x00 del\x7f c1\x9b",
    "ren\udce9 \ud800 caf\u00e9",
    "&lt;img src=x&gt; &amp; &#60;b&#62;",
    "\\<b\\> \\",
]
RENDER = MarkdownIt("gfm-like")   # html on, linkify on, tables on


def student_made(tokens) -> list[str]:
    """Links, images and raw HTML among the tokens (children included)."""
    found = []
    for token in tokens:
        if token.type in ("link_open", "image", "html_inline", "html_block"):
            found.append(f"{token.type}: {token.content or token.attrs}")
        if token.children:
            found += student_made(token.children)
    return found


def test_doctests_of_the_escaping_modules():
    for module in (text, markdown, html_text, xml_text, spreadsheet, terminal):
        assert doctest.testmod(module).failed == 0, module.__name__


@pytest.mark.parametrize("value", HOSTILE)
def test_markdown_text_renders_as_exactly_that_text_and_nothing_else(value):
    tokens = RENDER.parse(markdown.text(value))
    assert student_made(tokens) == []
    inline = [t for t in tokens if t.type == "inline"]
    assert [c.type for t in inline for c in t.children] and \
        {c.type for t in inline for c in t.children} <= {"text", "text_special"}
    shown = "".join(c.content for t in inline for c in t.children)
    assert shown == text.one_line(value)   # nothing lost, nothing added


@pytest.mark.parametrize("value", HOSTILE)
def test_a_markdown_table_cell_keeps_its_row_whole(value):
    table = "| a | b |\n|---|---|\n" + f"| {markdown.cell(value)} | {markdown.code(value, in_table=True)} |\n"
    tokens = RENDER.parse(table)
    assert student_made(tokens) == []
    assert sum(t.type == "tr_open" for t in tokens) == 2, "a header and exactly one row"
    assert sum(t.type == "td_open" for t in tokens) == 2
    cells = [t for t in tokens if t.type == "inline"][2:]
    assert "".join(c.content for c in cells[0].children) == text.one_line(value)
    spans = [c for c in cells[1].children if c.type == "code_inline"]
    if text.one_line(value):
        assert len(spans) == 1 and spans[0].content.strip() == text.one_line(value).strip()


@pytest.mark.parametrize("value", HOSTILE)
def test_a_fenced_block_holds_everything_a_program_printed(value):
    page = "\n".join(["<details><summary>" + markdown.html_text(value) + "</summary>", "",
                      *markdown.fenced(value), "</details>", "", "after"])
    tokens = RENDER.parse(page)
    fences = [t for t in tokens if t.type == "fence"]
    assert len(fences) == 1 and fences[0].content == text.readable(value) + "\n"
    html_blocks = [t.content for t in tokens if t.type == "html_block"]
    assert html_blocks == [f"<details><summary>{markdown.html_text(value)}</summary>\n", "</details>\n"]
    assert tokens[-2].type == "inline" and tokens[-2].content == "after", "the page goes on as Markdown"


class Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.data: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.data.append(data)


@pytest.mark.parametrize("value", HOSTILE)
def test_html_text_is_no_tag_and_reads_back_as_the_text(value):
    parser = Tags()
    parser.feed(f"<p title=\"{html_text.text(value)}\">{html_text.text(value)}</p>")
    parser.close()
    assert parser.tags == ["p"]
    assert "".join(parser.data) == text.readable(value)


@pytest.mark.parametrize("value", HOSTILE)
def test_xml_text_parses_and_reads_back(value):
    element = ElementTree.Element("failure", message=xml_text.text(value))
    element.text = xml_text.text(value)
    parsed = ElementTree.fromstring(ElementTree.tostring(element, encoding="unicode"))
    expected = text.readable(value)
    assert parsed.text == expected
    assert parsed.get("message") == expected   # ElementTree writes newlines in attributes as &#10;
    assert ElementTree.fromstring(f"<a x='{xml_text.escape(value)}'>{xml_text.escape(value)}</a>").text == expected


def test_the_junit_report_stays_xml_whatever_the_program_printed():
    document = {"scenario": "udp-echo", "duration_s": 1.0,
                "checks": [{"name": "replies", "passed": False, "detail": "".join(HOSTILE),
                            "hint": "\x00\x1b[2J"},
                           {"name": "ok \x08", "passed": True, "detail": "\x01\x02"}],
                "not_applicable": [{"name": "n", "reason": "\x0b\x0c<x>"}]}
    suite = ElementTree.fromstring(junit_xml(document))
    assert [c.get("name") for c in suite.iter("testcase")] == ["replies", "ok ", "n"]
    assert "forged row" in suite.find("testcase/failure").text


@pytest.mark.parametrize("value", ["=1+2", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "=cmd|' /C calc'!A0"])
def test_a_formula_cell_is_text_to_a_spreadsheet(value):
    row = classroom.GradeRow(value, "udp-echo", "server", "error", reason=value)
    read = next(csv.DictReader(io.StringIO(classroom.gradebook_csv([row]))))
    assert read["student"] == read["failed_checks"] == f"'{text.readable(value)}"
    assert read["scenario"] == "udp-echo" and read["outcome"] == "error"


def test_plain_names_are_unchanged_in_the_csv():
    row = classroom.GradeRow("ada lovelace", "udp-echo", "server", "passed")
    assert classroom.gradebook_csv([row]).splitlines()[1] == "ada lovelace,udp-echo,server,passed,,"


def test_the_gradebook_markdown_has_one_row_per_grade_row_and_no_student_markup():
    rows = [classroom.GradeRow(name, "udp-echo", "server", "error", reason=f"{name} is a symbolic link",
                               program="TCPServer.py") for name in HOSTILE]
    tokens = RENDER.parse(classroom.gradebook_markdown(rows))
    assert student_made(tokens) == []
    assert sum(t.type == "tr_open" for t in tokens) == 2 * (len(HOSTILE) + 1)   # two tables, header each


def test_text_decodes_and_strips():
    assert text.decoded("\udcff\ud800x") == "\ufffd\ufffdx"
    assert text.readable("a\x1b[1;31mb\x1b[0m\x1bc\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\") == "ablink"
    assert text.readable("x\x9b31my") == "x31my"   # C1 CSI: dropped, the rest is only text
    assert text.clean_tree({"k": ("\udce9",)}) == {"k": ["\ufffd"]}
