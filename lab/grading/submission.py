"""Students' programs: which file fills which role, read and checked before anything runs.

Pure (no Docker). A student program is one of the textbook's four files, in any language of
lab.scenario.languages (TCPServer.py, tcp_server.c, TCPServer.java, ...). It reaches the container
as text (see lab.scenario.plan), so everything that would make it unusable — a missing path, a directory,
a binary or non-UTF-8 file, a file far larger than any textbook program — is a clear error here.
A program that is valid text but wrong Python (or C, or Java) is *not* refused: its syntax error
(its compiler's first error) is the student's failed check or error row, quoted from the tool itself.
"""
from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from lab.errors import BadInput
from lab.escaping.text import one_line
from lab.scenario.languages import LANGUAGES, language_of, program_kind
from lab.scenario.model import StudentProgram

MAX_SOURCE_BYTES = 64 * 1024   # the textbook programs are under 1 KiB; this leaves room for comments
PROGRAM_KINDS = ("tcp-server", "tcp-client", "udp-server", "udp-client")
# The file names a textbook program goes by (compared case-insensitively, "_" and "-" ignored),
# with the extension of any language of the table: TCPServer.py, tcp_server.c, TcpServer.java ...
EXPECTED_NAMES = "TCPServer TCPClient UDPServer UDPClient (.py, .c or .java; any case; tcp_server.c etc. too)"


class SubmissionError(BadInput):
    """A student's file that cannot be run at all (missing, a directory, binary, not UTF-8, huge)."""


def read_program(path: str | Path, option: str = "", shown: str | None = None) -> StudentProgram:
    """Read a student's program; anything that cannot be run as Python text is a SubmissionError.

    Only a regular file is read, never what a link points to: a student's repository may hold a
    ``TCPServer.py`` that is a symlink to a file of the teacher's, or a FIFO that would block the
    grader. The file is looked at with lstat, opened with O_NOFOLLOW (and O_NONBLOCK, so nothing
    swapped in between can block), checked again on the open descriptor, and read up to the limit.

    >>> read_program("/nonexistent/UDPServer.py", "--server")
    Traceback (most recent call last):
    ...
    lab.grading.submission.SubmissionError: --server /nonexistent/UDPServer.py: no such file
    """
    where = shown or f"{option} {path}".strip()
    try:
        seen = os.lstat(path)
    except FileNotFoundError:
        raise SubmissionError(f"{where}: no such file") from None
    except OSError as error:
        raise SubmissionError(f"{where}: cannot be read ({error.strerror or error})") from None
    refused = refusal(seen)
    if refused:
        raise SubmissionError(f"{where} {refused}")
    _check_size(seen.st_size, where)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:   # ELOOP: it became a link since the lstat
        raise SubmissionError(f"{where}: cannot be read ({error.strerror or error})") from None
    with os.fdopen(descriptor, "rb") as handle:
        opened = os.fstat(handle.fileno())
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (seen.st_dev, seen.st_ino):
            raise SubmissionError(f"{where}: changed while it was read; submissions must be regular files")
        data = handle.read(MAX_SOURCE_BYTES + 1)   # never more than the limit, however the file grows
    return program_from_bytes(data, str(path), one_line(Path(path).name), where)


def refusal(seen: os.stat_result) -> str:
    """Why a file (by its lstat) is not read at all, as the end of a sentence; "" for a regular file.

    >>> refusal(os.lstat("/dev/null"))
    'is a character device: submissions must be regular files'
    """
    mode = seen.st_mode
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISLNK(mode):
        return "is a symbolic link: submissions must be regular files, not links"
    if stat.S_ISDIR(mode):
        return "is a directory; give the program's file (.py, .c or .java)"
    kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a character device" if stat.S_ISCHR(mode) else
            "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a file")
    return f"is {kind}: submissions must be regular files"


def _check_size(size: int, where: str) -> None:
    if size > MAX_SOURCE_BYTES:
        raise SubmissionError(f"{where}: {size} bytes; a program may have at most {MAX_SOURCE_BYTES // 1024} KiB")


def program_from_bytes(data: bytes, path: str, name: str, where: str | None = None) -> StudentProgram:
    """Check the bytes of a program: text, UTF-8, not empty, not huge.

    >>> program_from_bytes(b"print('hi')\\n", "a.py", "a.py").source
    "print('hi')\\n"
    >>> program_from_bytes(b"\\x7fELF\\x02\\x01\\x00", "a.py", "a.py")
    Traceback (most recent call last):
    ...
    lab.grading.submission.SubmissionError: a.py: a binary file, not a Python program (it contains NUL bytes)
    """
    where = where or path
    language = language_of(name) or LANGUAGES["python"]
    _check_size(len(data), where)
    if b"\x00" in data:
        raise SubmissionError(f"{where}: a binary file, not a {language.title} program (it contains NUL bytes)")
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SubmissionError(f"{where}: not UTF-8 text (byte {error.start}: {data[error.start:error.start + 1]!r}); "
                              "save it as UTF-8") from None
    if not source.strip():
        raise SubmissionError(f"{where}: the file is empty")
    return StudentProgram(path, name, source.lstrip("\ufeff"), hashlib.sha256(data).hexdigest(), language.name)


def kind_of_file(name: str) -> str | None:
    """Which textbook program a file name stands for, or None.

    >>> [kind_of_file(n) for n in ("TCPServer.py", "udp_client.c", "Tcp-Client.JAVA", "server.py")]
    ['tcp-server', 'udp-client', 'tcp-client', None]
    """
    return program_kind(name)


@dataclass(frozen=True)
class StudentFolder:
    """One student's folder: which textbook programs it holds (kind → file), and what was odd.

    ``student`` is the folder's name as readable text (a name that is not UTF-8 shows U+FFFD);
    ``refused`` says why the folder itself is not read (a link), making the student an error row.
    ``conflicts`` (kind → why): one program in two languages (TCPServer.c beside TCPServer.py);
    which one to grade is the student's choice, so that role is an error row naming both.
    """

    student: str
    files: dict[str, Path]
    problems: tuple[str, ...] = ()
    refused: str = ""
    conflicts: dict[str, str] = field(default_factory=dict)


def scan_student(folder: Path, student: str | None = None) -> StudentFolder:
    """The textbook programs in one folder (not recursive); two files for one kind is a problem.

    Files are only listed here; lstat and O_NOFOLLOW in read_program refuse a link or a FIFO
    that goes by a program's name, as that student's error row.
    """
    by_kind: dict[str, list[Path]] = {}
    for entry in sorted(folder.iterdir()):
        kind = kind_of_file(entry.name)
        if kind is not None:
            by_kind.setdefault(kind, []).append(entry)
    files: dict[str, Path] = {}
    problems: list[str] = []
    conflicts: dict[str, str] = {}
    for kind, entries in by_kind.items():
        files[kind] = entries[0]
        languages = {getattr(language_of(e.name), "title", "?") for e in entries}
        if len(languages) > 1:
            shown = ", ".join(f"{student_name(e.name)} ({getattr(language_of(e.name), 'title', '?')})"
                              for e in entries)
            conflicts[kind] = f"two languages for {kind}: {shown}; keep only the one to be graded"
        for other in entries[1:]:
            problems.append(f"two files for {kind}: {entries[0].name} and {other.name} (using {entries[0].name})")
    return StudentFolder(student or student_name(folder.name), files, tuple(problems), conflicts=conflicts)


def student_name(folder_name: str) -> str:
    """A folder's name as the gradebook shows it: valid UTF-8 on one line (bytes that were not, as U+FFFD).

    >>> student_name("ren\\udce9"), student_name("a\\nb")
    ('ren\ufffd', 'a b')
    """
    return one_line(folder_name) or "\ufffd"


def _named_apart(students: list[StudentFolder]) -> list[StudentFolder]:
    """Two folders whose names read the same (both had bytes that were not UTF-8) get " (2)" etc."""
    seen: dict[str, int] = {}
    out = []
    for student in students:
        count = seen[student.student] = seen.get(student.student, 0) + 1
        out.append(student if count == 1 else
                   StudentFolder(f"{student.student} ({count})", student.files, student.problems, student.refused,
                                 student.conflicts))
    return out


def scan_class(directory: str | Path) -> list[StudentFolder]:
    """Every student of a class folder: DIR/<student>/ with textbook programs inside.

    A folder that itself holds the programs and has no student sub-folder is one student (a
    student's repository checked out by CI). Hidden folders are skipped. A student "folder" that
    is a symbolic link is never followed: it is that student's error row.
    """
    root = Path(directory)
    if not root.exists():
        raise BadInput(f"{directory}: no such directory")
    if not root.is_dir():
        raise BadInput(f"{directory}: not a directory; give the folder that holds one folder per student")
    students = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_symlink():
            students.append(StudentFolder(student_name(entry.name), {}, refused=(
                f"{student_name(entry.name)} is a symbolic link: student folders must be real folders, not links")))
        elif entry.is_dir():
            students.append(scan_student(entry))
    students = _named_apart(students)
    # A student folder without any recognisable program stays in: it becomes that student's error row.
    if not any(s.files for s in students):
        own = scan_student(root, student_name(root.resolve().name))
        if own.files:
            return [own]
        if any(s.refused for s in students):
            return students
        raise BadInput(f"{directory}: no student programs found; expected {directory}/<student>/ holding any of "
                       f"{EXPECTED_NAMES}")
    return students
