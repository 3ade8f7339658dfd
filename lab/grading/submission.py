"""Students' programs: which file fills which role, read and checked before anything runs.

Pure (no Docker). A student program is one of the textbook's four files. It reaches the container
as text (see lab.scenario.plan), so everything that would make it unusable — a missing path, a directory,
a binary or non-UTF-8 file, a file far larger than any textbook program — is a clear error here.
A program that is valid text but wrong Python is *not* refused: its syntax error is the student's
failed check, quoted from Python itself.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from lab.errors import BadInput
from lab.scenario.model import StudentProgram

MAX_SOURCE_BYTES = 64 * 1024   # the textbook programs are under 1 KiB; this leaves room for comments
PROGRAM_KINDS = ("tcp-server", "tcp-client", "udp-server", "udp-client")
# The file names a textbook program goes by (compared case-insensitively, "_" and "-" ignored):
# TCPServer.py, tcp_server.py, tcp-server.py, TcpServer.py ...
_FILE_NAME = re.compile(r"^(tcp|udp)[_-]?(server|client)\.py$", re.IGNORECASE)


class SubmissionError(BadInput):
    """A student's file that cannot be run at all (missing, a directory, binary, not UTF-8, huge)."""


def read_program(path: str | Path, option: str = "") -> StudentProgram:
    """Read a student's program; anything that cannot be run as Python text is a SubmissionError.

    >>> read_program("/nonexistent/UDPServer.py", "--server")
    Traceback (most recent call last):
    ...
    lab.grading.submission.SubmissionError: --server /nonexistent/UDPServer.py: no such file
    """
    where = f"{option} {path}".strip()
    file = Path(path)
    if not file.exists():
        raise SubmissionError(f"{where}: no such file")
    if file.is_dir():
        raise SubmissionError(f"{where}: is a directory; give the program's .py file")
    if not file.is_file():
        raise SubmissionError(f"{where}: not a regular file")
    try:
        data = file.read_bytes()
    except OSError as error:
        raise SubmissionError(f"{where}: cannot be read ({error.strerror or error})") from None
    return program_from_bytes(data, str(path), file.name, where)


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
    if len(data) > MAX_SOURCE_BYTES:
        raise SubmissionError(f"{where}: {len(data)} bytes; a program may have at most "
                              f"{MAX_SOURCE_BYTES // 1024} KiB")
    if b"\x00" in data:
        raise SubmissionError(f"{where}: a binary file, not a Python program (it contains NUL bytes)")
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SubmissionError(f"{where}: not UTF-8 text (byte {error.start}: {data[error.start:error.start + 1]!r}); "
                              "save it as UTF-8") from None
    if not source.strip():
        raise SubmissionError(f"{where}: the file is empty")
    return StudentProgram(path, name, source.lstrip("\ufeff"), hashlib.sha256(data).hexdigest())


def kind_of_file(name: str) -> str | None:
    """Which textbook program a file name stands for, or None.

    >>> [kind_of_file(n) for n in ("TCPServer.py", "udp_client.py", "Tcp-Client.PY", "server.py")]
    ['tcp-server', 'udp-client', 'tcp-client', None]
    """
    match = _FILE_NAME.match(name)
    if not match:
        return None
    return f"{match.group(1).lower()}-{match.group(2).lower()}"


@dataclass(frozen=True)
class StudentFolder:
    """One student's folder: which textbook programs it holds (kind → file), and what was odd."""

    student: str
    files: dict[str, Path]
    problems: tuple[str, ...] = ()


def scan_student(folder: Path, student: str | None = None) -> StudentFolder:
    """The textbook programs in one folder (not recursive); two files for one kind is a problem."""
    files: dict[str, Path] = {}
    problems: list[str] = []
    for entry in sorted(folder.iterdir()):
        kind = kind_of_file(entry.name)
        if kind is None:
            continue
        if kind in files:
            problems.append(f"two files for {kind}: {files[kind].name} and {entry.name} (using {files[kind].name})")
            continue
        files[kind] = entry
    return StudentFolder(student or folder.name, files, tuple(problems))


def scan_class(directory: str | Path) -> list[StudentFolder]:
    """Every student of a class folder: DIR/<student>/ with textbook programs inside.

    A folder that itself holds the programs and has no student sub-folder is one student (a
    student's repository checked out by CI). Hidden folders are skipped.
    """
    root = Path(directory)
    if not root.exists():
        raise BadInput(f"{directory}: no such directory")
    if not root.is_dir():
        raise BadInput(f"{directory}: not a directory; give the folder that holds one folder per student")
    students = [scan_student(d) for d in sorted(root.iterdir())
                if d.is_dir() and not d.name.startswith((".", "_"))]
    # A student folder without any recognisable program stays in: it becomes that student's error row.
    if not any(s.files for s in students):
        own = scan_student(root, root.resolve().name)
        if own.files:
            return [own]
        raise BadInput(f"{directory}: no student programs found; expected {directory}/<student>/ holding any of "
                       "TCPServer.py TCPClient.py UDPServer.py UDPClient.py (any case; tcp_server.py etc. too)")
    return students
