"""A student's folder is hostile: links, FIFOs, devices and huge files are refused unread, and odd
names still give a gradebook (the whole class, graded on real containers: tests/integration/
test_abusers_class.py)."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from xml.etree import ElementTree

import pytest

from lab.grading import classroom

from lab.grading import grade as grading

from lab.grading import submission
from lab.grading.submission import SubmissionError, read_program

SECRET = "TEACHERS-SECRET-7f3a"


def refused(path: Path) -> str:
    with pytest.raises(SubmissionError) as caught:
        read_program(path)
    return str(caught.value)


def test_a_symlinked_program_is_refused_and_its_target_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{SECRET} = 1\n")
    (tmp_path / "TCPServer.py").symlink_to(secret)
    message = refused(tmp_path / "TCPServer.py")
    assert message == f"{tmp_path / 'TCPServer.py'} is a symbolic link: submissions must be regular files, not links"
    assert SECRET not in message and "secret.txt" not in message


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_the_target_of_a_link_is_never_opened_as_strace_sees_it(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{SECRET} = 1\n")
    (tmp_path / "TCPServer.py").symlink_to(secret)
    (tmp_path / "UDPServer.py").write_text("print('ok')\n")
    log = tmp_path / "strace.log"
    code = ("import sys; from lab.grading.submission import read_program\n"
            "try: read_program(sys.argv[1])\nexcept Exception as e: print(e)\n"
            "print(read_program(sys.argv[2]).sha256)")
    done = subprocess.run(["strace", "-f", "-e", "trace=open,openat,openat2", "-o", str(log), sys.executable,
                           "-c", code, str(tmp_path / "TCPServer.py"), str(tmp_path / "UDPServer.py")],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert done.returncode == 0, done.stderr
    opens = log.read_text()
    assert "secret.txt" not in opens and "TCPServer.py" not in opens, "neither the link nor its target opened"
    regular = [line for line in opens.splitlines() if "UDPServer.py" in line]
    assert regular and all("O_NOFOLLOW" in line and "O_NONBLOCK" in line for line in regular)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "UDPServer.py"
    os.mkfifo(fifo)
    (tmp_path / "TCPServer.py").symlink_to(fifo)
    messages: list[str] = []
    worker = threading.Thread(target=lambda: messages.extend([refused(fifo), refused(tmp_path / "TCPServer.py")]),
                              daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "opening the FIFO blocked the grader"
    assert messages[0].endswith("is a FIFO (named pipe): submissions must be regular files")
    assert "symbolic link" in messages[1]


def test_a_device_and_a_directory_are_refused(tmp_path):
    assert refused(Path("/dev/null")) == "/dev/null is a character device: submissions must be regular files"
    (tmp_path / "TCPServer.py").mkdir()
    assert "is a directory" in refused(tmp_path / "TCPServer.py")


def test_a_huge_file_is_refused_from_its_size_unread(tmp_path):
    huge = tmp_path / "TCPServer.py"
    with huge.open("wb") as handle:   # sparse: reading it whole would take 64 GiB of memory
        handle.truncate(64 * 2**30)
    assert refused(huge) == f"{huge}: 68719476736 bytes; a program may have at most 64 KiB"


def test_the_refusal_names_the_file_as_shown(tmp_path):
    (tmp_path / "TCPServer.py").symlink_to("/etc/passwd")
    with pytest.raises(SubmissionError, match=r"^TCPServer.py is a symbolic link"):
        read_program(tmp_path / "TCPServer.py", shown="TCPServer.py")


def test_a_symlinked_student_folder_is_an_error_row_and_never_listed(tmp_path):
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    (teacher / "TCPServer.py").write_text(f"{SECRET}\n")
    (tmp_path / "class" / "ada").mkdir(parents=True)
    (tmp_path / "class" / "ada" / "UDPServer.py").write_text("print('hi')\n")
    (tmp_path / "class" / "mallory").symlink_to(teacher, target_is_directory=True)
    students = {s.student: s for s in submission.scan_class(tmp_path / "class")}
    assert students["mallory"].files == {}
    assert students["mallory"].refused == ("mallory is a symbolic link: student folders must be real folders, "
                                           "not links")
    jobs, rows = grading.plan_jobs(list(students.values()), {"tcp-echo": {"server": "tcp-server"}}, True)
    assert jobs["mallory"] == [] and [(r.outcome, r.reason) for r in rows["mallory"]] == [
        ("error", students["mallory"].refused)]


def test_names_that_are_not_utf8_read_apart(tmp_path):
    root = os.fsencode(tmp_path / "class")
    os.mkdir(root)
    for raw in (b"ren\xe9", b"ren\xe8", b"=cmd|calc", b"tab\tand\x1b[31mred"):
        os.mkdir(root + b"/" + raw)
        Path(os.fsdecode(root + b"/" + raw + b"/UDPServer.py")).write_text("print('x')\n")
    names = [s.student for s in submission.scan_class(tmp_path / "class")]
    assert names == ["=cmd|calc", "ren\ufffd", "ren\ufffd (2)", "tab andred"]


def test_the_gradebook_of_hostile_students_is_written_and_parses(tmp_path):
    """Rows with odd names and control characters in their details: every file written and readable."""
    document = {"scenario": "udp-echo", "passed": False, "duration_s": 1.0, "lesson": "l", "impairment_backend": None,
                "checks": [{"name": "replies", "passed": False, "points": 1,
                            "detail": f"\x1b[31m<img src=x onerror=alert(1)>\x00 ![x](http://evil) {chr(0xdce9)}",
                            "hint": "| ✅ PASSED |"}],
                "not_applicable": [], "programs": {"server": {"host": "server", "program": "student",
                                                               "file": "UDPServer.py"}},
                "student_output": {"server": [{"stdout": "```\n<script>x</script>\x1b]0;t\x07", "stderr": "\x00",
                                               "ended": {"rc": 1}}]}}
    names = ["ren\udce9", "=SUM(1)", "![x](http://evil)", "<img src=x onerror=alert(1)>"]
    rows = [classroom.GradeRow(submission.student_name(n), "udp-echo", "server", "failed", ["replies"],
                               json.loads(json.dumps(document)), program="UDPServer.py") for n in names]
    written = grading.write_grades(rows, tmp_path, environ={})
    for path in written:
        raw = path.read_bytes().decode("utf-8")   # strict: every file is valid UTF-8
        if path.suffix == ".json":
            json.loads(raw)
        elif path.name.endswith(".xml"):
            ElementTree.fromstring(raw)
    read = list(csv.DictReader((tmp_path / "gradebook.csv").open(encoding="utf-8")))
    assert [r["student"] for r in read] == ["ren\ufffd", "'=SUM(1)", "![x](http://evil)",
                                            "<img src=x onerror=alert(1)>"]
