"""The languages a student may write the four programs in: one table that everything else reads.

Pure data and pure helpers (no Docker). Each entry says which files are in that language, the
Debian packages of its toolchain, how a program is built (in a container of its own, see
lab.run.build) and run (under the supervisor, images/apps/programs/student_run.py), and how the
compiler reports its first error. Adding a language is one entry here plus nothing else: its
toolchain image is images/toolchain/ with the entry's ``packages``, built on first need, so the
Python-only path never waits for a compiler.

Argv templates are filled by :func:`fill`: ``{source}`` the file the source is saved as,
``{out}`` the build's output folder, ``{dir}`` the folder the built files are unpacked into when
the program runs, ``{main}`` the program's entry (C: the executable; Java: the class).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from lab.common import IMAGE_TAG


@dataclass(frozen=True)
class Language:
    """One language of the table."""

    name: str                      # key: python | c | java
    title: str                     # as a student reads it: Python, C, Java
    extensions: tuple[str, ...]    # lower case, with the dot
    packages: tuple[str, ...]      # Debian packages of its toolchain image; () = the apps image runs it
    build: tuple[str, ...]         # argv template run in {out}'s parent; () = nothing to build
    run: tuple[str, ...]           # argv template of the program under the supervisor; () = Python's own loader
    error_line: str = ""           # regex: a compiler's error line, with groups file, line, message
    run_notes: str = ""            # why the run command looks the way it does
    start_allowance_s: float = 0.0   # added to a run's wall clock: the runtime's own start (a JVM's)
    trace_notes: str = ""          # what its programs' traces (api-trace --lang) do not show, and why

    @property
    def compiled(self) -> bool:
        return bool(self.build)

    @property
    def image(self) -> str:
        """The image a program of this language is built and run in (toolchain on the apps image)."""
        from lab.common import APPS_IMAGE

        return f"socklab/lang-{self.name}:{IMAGE_TAG}" if self.packages else APPS_IMAGE


LANGUAGES: dict[str, Language] = {
    "python": Language("python", "Python", (".py",), (), (), ()),
    "c": Language(
        "c", "C", (".c",), ("gcc", "libc6-dev"),
        build=("gcc", "-std=gnu11", "-O1", "-Wall", "-fdiagnostics-plain-output", "-o", "{out}/{main}",
               "{source}"),
        # stdbuf -o0: a C program's stdout into a pipe is fully buffered, so a server that never
        # exits would show nothing it printed; unbuffered, everything shows as it is printed.
        run=("stdbuf", "-o0", "-e0", "{dir}/{main}"),
        error_line=r"^(?P<file>[^:\n]+):(?P<line>\d+):(?:\d+:)? (?:fatal )?error: (?P<message>.+)$",
        run_notes="stdbuf -o0 -e0: unbuffered stdio"),
    "java": Language(
        "java", "Java", (".java",), ("default-jdk-headless",),
        build=("javac", "-J-Xmx256m", "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1", "-encoding", "UTF-8",
               "-nowarn", "-d", "{out}", "{source}"),
        # IPv4 sockets, as the textbook's AF_INET programs (and traces comparable with theirs); a
        # small, quick JVM for a 128 MiB, half-a-core container.
        run=("java", "-Djava.net.preferIPv4Stack=true", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             "-XX:-UsePerfData", "-Xss512k", "-Xmx48m", "-cp", "{dir}", "{main}"),
        error_line=r"^(?P<file>[^:\n]+\.java):(?P<line>\d+): error: (?P<message>.+)$",
        run_notes="System.out flushes at each println",
        trace_notes="A Java TCP socket's streams send and receive with write() and read(), which are not "
                    "socket calls: the tracer (socket calls only) shows its connect/accept and close, not its data.",
        start_allowance_s=2.0),
}
PROGRAM_STEMS = r"(tcp|udp)[_-]?(server|client)"   # TCPServer, tcp_server, tcp-server (any case)
_EXTENSION = {ext: lang for lang in LANGUAGES.values() for ext in lang.extensions}
_FILE_NAME = re.compile(rf"^{PROGRAM_STEMS}(?P<ext>\.[A-Za-z]+)$", re.IGNORECASE)


def all_extensions() -> tuple[str, ...]:
    """Every extension of the table, e.g. ('.py', '.c', '.java')."""
    return tuple(_EXTENSION)


def language_of(name: str) -> Language | None:
    """The language a file is in by its extension (any case), or None.

    >>> [getattr(language_of(n), "name", None) for n in ("a.py", "TCPServer.C", "x.java", "x.rs")]
    ['python', 'c', 'java', None]
    """
    match = re.search(r"\.[A-Za-z]+$", name)
    return _EXTENSION.get(match.group(0).lower()) if match else None


def program_kind(name: str) -> str | None:
    """Which of the four programs a file name stands for, in any language of the table, or None.

    >>> [program_kind(n) for n in ("TCPServer.py", "udp_client.c", "Tcp-Client.JAVA", "server.py", "TCPServer.rs")]
    ['tcp-server', 'udp-client', 'tcp-client', None, None]
    """
    match = _FILE_NAME.match(name)
    if not match or match.group("ext").lower() not in _EXTENSION:
        return None
    return f"{match.group(1).lower()}-{match.group(2).lower()}"


_JAVA_CLASS = re.compile(r"^[ \t]*(?P<mods>(?:(?:public|final|abstract|static)\s+)*)class\s+(?P<name>[A-Za-z_$][\w$]*)",
                         re.MULTILINE)
_JAVA_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)


def java_class(source: str) -> str | None:
    """The class a Java program declares (the public one, else the first top-level one), or None.

    A Java file's class is whatever it declares, whatever the file is called: ``tcp_server.java``
    holding ``public class TCPServer`` is saved as ``TCPServer.java`` for javac and run as
    ``java TCPServer``.

    >>> java_class("import java.io.*;\\n// class Nope\\nclass Helper {}\\npublic class TCPServer {\\n}")
    'TCPServer'
    >>> java_class("class UDPClient { }"), java_class("int x;")
    ('UDPClient', None)
    """
    text = _JAVA_COMMENTS.sub("", source)
    found = list(_JAVA_CLASS.finditer(text))
    public = [m for m in found if "public" in m.group("mods").split()]
    chosen = (public or found or [None])[0]
    return chosen.group("name") if chosen else None


def entry_point(language: Language, file_name: str, source: str) -> tuple[str, str]:
    """(the file name the source is saved as for the compiler, the program's entry).

    >>> entry_point(LANGUAGES["c"], "tcp_server.c", "int main(){}")
    ('tcp_server.c', 'program')
    >>> entry_point(LANGUAGES["java"], "tcp_server.java", "public class TCPServer {}")
    ('TCPServer.java', 'TCPServer')
    """
    if language.name == "java":
        declared = java_class(source) or re.sub(r"\W", "_", file_name.rsplit(".", 1)[0]) or "Main"
        return f"{declared}.java", declared
    safe = re.sub(r"[^\w.-]", "_", file_name).lstrip(".-") or "program.c"
    return safe, "program"


def fill(template: tuple[str, ...], **values: str) -> tuple[str, ...]:
    """An argv template with its placeholders filled.

    >>> fill(("gcc", "-o", "{out}/{main}", "{source}"), out="/b", main="program", source="a.c")
    ('gcc', '-o', '/b/program', 'a.c')
    """
    return tuple(part.format(**values) for part in template)


@dataclass(frozen=True)
class BuildError:
    """The compiler's first error, where it is and the line it is about."""

    file: str
    line: int | None
    message: str
    source_line: str = ""

    def reason(self) -> str:
        """One sentence a student can act on, e.g. ``tcp_server.c:5: expected ';' before 'struct'``."""
        where = f"{self.file}:{self.line}" if self.line else self.file
        shown = f" — line {self.line}: {self.source_line.strip()}" if self.source_line.strip() else ""
        return f"build failed: {where}: {self.message}{shown}"


def first_error(language: Language, output: str, saved_as: str, shown_as: str, source: str) -> BuildError:
    """The first error in a compiler's output, named by the student's own file name.

    >>> out = "tcp_server.c: In function 'main':\\ntcp_server.c:5:5: error: expected ';' before 'struct'\\n"
    >>> first_error(LANGUAGES["c"], out, "tcp_server.c", "tcp_server.c", "a\\nb\\nc\\nd\\nint x\\n").reason()
    "build failed: tcp_server.c:5: expected ';' before 'struct' — line 5: int x"
    >>> first_error(LANGUAGES["c"], "/usr/bin/ld: undefined reference to `main'\\ncollect2: error: ld returned 1", "a.c", "a.c", "").reason()
    "build failed: a.c: /usr/bin/ld: undefined reference to `main'"
    """
    lines = source.splitlines()
    for raw in output.splitlines():
        match = re.match(language.error_line, raw) if language.error_line else None
        if match and match.group("file").rsplit("/", 1)[-1] == saved_as:
            number = int(match.group("line"))
            text = lines[number - 1] if 0 < number <= len(lines) else ""
            return BuildError(shown_as, number, match.group("message").strip()[:300], text[:200])
    useful = [line.strip() for line in output.splitlines()
              if line.strip() and not line.startswith((f"{saved_as}: In ", "In file included", "collect2:"))]
    message = (useful[0] if useful else "the compiler failed without saying why").replace(saved_as, shown_as)
    return BuildError(shown_as, None, message[:300])
