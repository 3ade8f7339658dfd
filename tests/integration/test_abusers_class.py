"""An "abusers" class graded end to end (`invoke grade` on the real engine): nothing a student
submits reaches the teacher's files, and one student's bytes never stop or forge the class's output.

Two runs only (the rest is refused before anything runs), so this stays well under a minute:

* a folder whose name is not UTF-8 (a zip made on Windows) holding a UDP server that prints
  control characters, escape sequences, Markdown and HTML, then raises an exception quoting them;
* ``=HYPERLINK(...)``: the textbook server, a formula in a spreadsheet unless escaped;
* ``![x](https:evil.example)``: a TCPServer.py that is a symlink to a teacher's secret file;
* ``[ok](javascript:alert(1))``: the student folder itself a symlink to a teacher's folder;
* ``<img src=x onerror=alert(1)>``: a UDPServer.py that is a FIFO, a TCPServer.py linked to it;
* ``| ✅ PASSED | 100 |``: an oversized UDPServer.py.

Every report is read by a real parser (json, csv, ElementTree, markdown-it-py as GitHub renders
Markdown, html.parser for the HTML page of each run).
"""
from __future__ import annotations

import csv
import html.parser
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
from markdown_it import MarkdownIt

from lab.report import html as html_report

ROOT = Path(__file__).resolve().parents[2]
TEXTBOOK = ROOT / "tests/submissions/textbook"
SECRET = "TEACHERS_SECRET_c0ffee"
NON_UTF8 = b"caf\xe9 r\xe9seau"          # latin-1, as a Windows zip leaves it
LOUD = "\n".join([
    "import socket, sys",
    "HOSTILE = ('\\x00\\x01\\x07\\x08\\x0b\\x0c\\x1f \\x1b[2J\\x1b]0;pwned\\x07 \\x1b[31mred\\x1b[0m '",
    "           '![x](http://evil/x.png) <img src=x onerror=alert(1)> [ok](javascript:alert(1)) '",
    "           '<script>alert(1)</script> http://evil.example ``` | \\u2705 PASSED | 100 |')",
    "print(HOSTILE, flush=True)",
    "print(HOSTILE, file=sys.stderr, flush=True)",
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
    "s.bind(('', 12000))",
    "message, client = s.recvfrom(2048)",
    "s.sendto(message.decode().upper().encode(), client)",
    "raise RuntimeError(HOSTILE)",
    ""])
RENDER = MarkdownIt("gfm-like")   # raw HTML, tables and bare-URL autolinks on, as on GitHub
LAB_HTML = ("<details><summary>", "</details>")

pytestmark = pytest.mark.integration


def make_class(root: Path) -> dict[str, Path]:
    """The class folder, the teacher's files the students point at, and the FIFO."""
    teacher = root / "teacher"
    (teacher / "private").mkdir(parents=True)
    secret = teacher / "secret.py"
    secret.write_text(f"{SECRET} = 'marks'\n")
    (teacher / "private" / "TCPServer.py").write_text(f"{SECRET}\n")
    (teacher / "private" / "UDPServer.py").write_text(f"{SECRET}\n")
    klass = root / "class"
    klass.mkdir()
    loud = Path(os.fsdecode(os.fsencode(klass) + b"/" + NON_UTF8))
    loud.mkdir()
    (loud / "UDPServer.py").write_text(LOUD)
    formula = klass / '=HYPERLINK("https:evil.example","ok")'
    formula.mkdir()
    shutil.copy(TEXTBOOK / "UDPServer.py", formula / "UDPServer.py")
    linker = klass / "![x](https:evil.example)"
    linker.mkdir()
    (linker / "TCPServer.py").symlink_to(secret)
    (klass / "[ok](javascript:alert(1))").symlink_to(teacher / "private", target_is_directory=True)
    piper = klass / "<img src=x onerror=alert(1)>"
    piper.mkdir()
    fifo = piper / "UDPServer.py"
    os.mkfifo(fifo)
    (piper / "TCPServer.py").symlink_to(fifo)
    huge = klass / "| ✅ PASSED | 100 |"
    huge.mkdir()
    (huge / "UDPServer.py").write_text("# padding\n" * 7000 + "print('hi')\n")
    return {"class": klass, "secret": secret, "private": teacher / "private", "fifo": fifo}


class FifoWatch(threading.Thread):
    """Sees any reader of the FIFO: a writer's non-blocking open succeeds only while one has it open."""

    def __init__(self, fifo: Path) -> None:
        super().__init__(daemon=True)
        self.fifo, self.opened, self.stop = fifo, False, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                os.close(os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK))
                self.opened = True
            except OSError:
                pass
            time.sleep(0.01)


def grade(paths: dict[str, Path], out: Path, trace: Path | None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "invoke", "grade", str(paths["class"]), "--scenarios", "udp-echo,tcp-echo",
               "--jobs", "2", "--report-dir", str(out)]
    if trace is not None:   # every file the grader opens, its threads included (filtered in the kernel)
        command = ["strace", "-f", "--seccomp-bpf", "-qq", "-e", "trace=open,openat,openat2", "-o", str(trace),
                   *command]
    return subprocess.run(command, cwd=ROOT, capture_output=True, timeout=300)


def markup_of(tokens) -> list[str]:
    found = []
    for token in tokens:
        if token.type in ("link_open", "image") or (token.type in ("html_inline", "html_block")
                                                    and not token.content.startswith(LAB_HTML)):
            found.append(f"{token.type} {token.content or token.attrs}")
        found += markup_of(token.children or [])
    return found


class Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def test_an_abusers_class_is_graded_and_every_report_stays_the_labs(engine, built_images, no_leftovers, tmp_path):
    paths = make_class(tmp_path)
    out = tmp_path / "grades"
    trace = tmp_path / "opens.log" if shutil.which("strace") else None
    watch = FifoWatch(paths["fifo"])
    watch.start()
    started = time.monotonic()
    try:
        result = grade(paths, out, trace)
    finally:
        watch.stop.set()
    took = time.monotonic() - started
    stdout, stderr = (result.stdout.decode("utf-8"), result.stderr.decode("utf-8"))   # strict: valid UTF-8
    assert result.returncode == 0, stdout[-3000:] + stderr[-3000:]
    assert "6/6 students" in stdout
    assert "\x1b]0;pwned" not in stdout + stderr and "\x1b[2J" not in stdout + stderr

    # Nothing of the teacher's was opened: not the secret, not the linked folder, not the FIFO.
    assert not watch.opened, "the grader opened the FIFO"
    if trace is not None:
        opens = trace.read_text(errors="replace")
        for never in (paths["secret"], paths["private"], paths["fifo"]):
            assert str(never) not in opens, f"{never} was opened"
        assert "TCPServer.py" not in opens, "a TCPServer.py link was opened"

    # Every file written, every one valid UTF-8, none holding the secret.
    files = sorted(p for p in out.rglob("*") if p.is_file())
    for path in files:
        raw = path.read_bytes().decode("utf-8")
        assert SECRET not in raw, path
        if path.suffix == ".json":
            json.loads(raw)
        elif path.name.endswith(".xml"):
            ElementTree.fromstring(raw)
    assert SECRET not in stdout + stderr

    rows = list(csv.DictReader((out / "gradebook.csv").open(encoding="utf-8", newline="")))
    by = {(r["student"], r["scenario"], r["role"]): r for r in rows}
    loud = "caf\ufffd r\ufffdseau"
    assert by[(loud, "udp-echo", "server")]["outcome"] in ("passed", "failed")   # it ran
    formula = '\'=HYPERLINK("https:evil.example","ok")'
    assert by[(formula, "udp-echo", "server")]["outcome"] == "passed"
    assert by[("![x](https:evil.example)", "tcp-echo", "server")] == {
        "student": "![x](https:evil.example)", "scenario": "tcp-echo", "role": "server", "outcome": "error",
        "failed_checks": "TCPServer.py is a symbolic link: submissions must be regular files, not links",
        "seed": ""}
    assert by[("[ok](javascript:alert(1))", "-", "-")]["failed_checks"] == (
        "[ok](javascript:alert(1)) is a symbolic link: student folders must be real folders, not links")
    piper = "<img src=x onerror=alert(1)>"
    assert by[(piper, "udp-echo", "server")]["failed_checks"] == (
        "UDPServer.py is a FIFO (named pipe): submissions must be regular files")
    assert "symbolic link" in by[(piper, "tcp-echo", "server")]["failed_checks"]
    assert by[("| ✅ PASSED | 100 |", "udp-echo", "server")]["failed_checks"] == (
        "UDPServer.py: 70012 bytes; a program may have at most 64 KiB")
    for row in rows:
        for column in ("student", "failed_checks"):
            assert not row[column].startswith(("=", "+", "-", "@", "\t", "\r")), row

    # The loud student's reports: its output kept as text, its markup nowhere live.
    folder = next(p for p in out.iterdir() if p.is_dir() and p.name.startswith("caf"))
    document = json.loads((folder / "udp-echo.server.json").read_text(encoding="utf-8"))
    printed = document["student_output"]["server"][0]
    assert "<img src=x onerror=alert(1)>" in printed["stdout"] and "RuntimeError" in printed["stderr"]
    assert "<img src=x onerror=alert(1)>" in (folder / "udp-echo.server.md").read_text(encoding="utf-8")

    markdown_files = [p for p in files if p.suffix == ".md"]
    assert len(markdown_files) == 3   # the gradebook, and the two runs' reports
    for path in markdown_files:   # what a job summary shows
        assert markup_of(RENDER.parse(path.read_text(encoding="utf-8"))) == [], path
    gradebook = RENDER.parse((out / "gradebook.md").read_text(encoding="utf-8"))
    assert sum(t.type == "tr_open" for t in gradebook) == (len(rows) + 1) + (6 + 1), "no forged row"

    for path in (p for p in files if p.name.endswith(".server.json")):   # each run's HTML page
        page = html_report.render(json.loads(path.read_text(encoding="utf-8")), path.parent)
        tags = Tags()
        tags.feed(page)
        assert not [t for t, _ in tags.tags if t in ("img", "script", "a", "iframe", "svg")], path
        assert not [a for _, attrs in tags.tags for a, _ in attrs if a.startswith("on")], path
    assert took < 120, f"the abusers class took {took:.0f} s"
