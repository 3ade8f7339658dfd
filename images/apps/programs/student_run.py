#!/usr/bin/env python3
"""Runs one student's program inside its container and reports what the lab can observe.

The student's file arrives in the command line (--source-b64, base64 of its bytes), not as a
file; a compiled language's program (C, Java) arrives built, as --artifact-b64 (what
student_build.py packed) with the language's run command (--run-json, lab/scenario/languages.py),
and is unpacked into a fresh folder of the student's home: nothing is copied into the container (whose root file system may be read-only), and the
program's tracebacks still name its own file and lines.
It runs as a child process of this supervisor, unbuffered (python3 -u), in its own session, and
with limits that end it rather than the machine:

  --limit-s S        wall clock: the program is stopped after S seconds (a client that waits
                     forever, an infinite loop); before stopping it we note where it was
                     (blocked in recvfrom(), accept()..., or running) — that is the hint
  --cpu-s S          CPU seconds (RLIMIT_CPU): a busy loop is killed by the kernel
  --output-bytes N   at most N bytes of stdout+stderr are kept; a program printing more is
                     stopped (an output flood must not fill the engine's logs)
  --trace            run the program under `strace -f` (the tracer lab.observe.trace reads), as
                     the student's user: strace is the program's parent, so it needs no
                     capability (a tracer of another real uid than the program's would be
                     refused by the kernel); what it writes comes back as `trace` events
  --max-wait-s S     (a client) judge its waits from the kernel (waits.py): a wait with no end is
  --grace-s G        stopped after G s blocked (a blocking receive: after S s), a timeout above S
                     after G s blocked; a timeout up to S is left to fire

The container adds the memory, process-count and CPU-share limits.

Who is who. The lab trusts this supervisor's events, so the program must not be able to write into
its output or signal it (a forged `exited rc=0`, a killed supervisor that no longer stops anything).
The supervisor starts as root with only CAP_SETUID and CAP_SETGID (the lab adds nothing else) and,
before it reads anything of the student's, becomes user `supervisor` with the student's uid as its
*effective* uid only: real/effective/saved uid = supervisor/student/supervisor. The kernel then
clears every capability it had (all three uids are non-root), and this process cannot get them back
(no-new-privileges). The program runs as `student` in all three. What follows, kernel rules:

* the supervisor may signal the program (its effective uid is the program's real uid) and read the
  program's /proc/PID/syscall (its file-system uid is the program's; the program is its child);
* the program may not signal the supervisor (neither of its uids is the supervisor's real or saved
  uid), nor open /proc/<supervisor>/fd/1, nor ptrace it (not all of the supervisor's uids are its
  own; the supervisor is also non-dumpable);
* the container's other processes (its init, an idle `sleep`) belong to root.

Under --trace the tracer runs as `student` too (the kernel refuses to let a tracer of another
real uid attach), so the program could reach strace's output: the lab reads the trace as the
student's own account of its calls, shown beside the reference's and used for hints, never for a
check's verdict. The supervisor's events stay out of the program's reach as above, and so does its
supervision: the program may kill strace, but the supervisor is a child subreaper, so the program
becomes its child then; the limits go on, and its own exit status is the one reported. (With its
tracer gone, the program's own socket calls fail with ENOSYS: strace's --seccomp-bpf filter stays.)

The supervisor exits with the program's exit status (128 + N when signal N ended it), so the
engine's exit code of this process says the same as the `exited` event. The standard input gets
--input and a newline (the textbook client reads its sentence with input()), then end of file.

Everything is reported as JSON events on stdout, one per line, flushed at once, so that what the
program printed before being stopped is never lost:

    started   {name, pid}
    listening {proto, port}            a socket of the container is bound/listening on --port
    output    {stream, text}           what the program printed (stdout or stderr), as it came
    trace     {text}                   (--trace) strace's lines as they came, at most TRACE_BYTES
    limit     {what, limit, blocked_in, state, [wait_timeout_s, waited_s, seen]}
                                       what: wall-clock | output | stopped | waits-forever |
                                       timeout-too-long (limit: the accepted longest timeout)
    exited    {rc, signal, seconds, reason}   always last; reason: exited | wall-clock | cpu |
                                               memory | output | stopped (SIGTERM from the lab) |
                                               waits-forever | timeout-too-long
"""
from __future__ import annotations

import argparse
import base64
import ctypes
import json
import os
import platform
import pwd
import resource
import selectors
import signal
import subprocess
import sys
import time

import waits

SOURCE_ENV = "SOCKLAB_STUDENT_SOURCE"
SUPERVISOR_USER = "supervisor"   # images/apps/Dockerfile
STUDENT_USER = "student"
PR_GET_DUMPABLE, PR_SET_DUMPABLE = 3, 4
PR_SET_CHILD_SUBREAPER = 36
NOT_STARTED_AS_ROOT = 125         # exit status: the lab started this supervisor wrongly
TRACE_FD_ENV = "SOCKLAB_TRACE_FD"
TRACE_BYTES = 256 * 1024          # strace's lines kept per run: a program's first thousands of calls
# As lab.scenario.plan.STRACE_ARGV (api-trace's reference programs), plus --seccomp-bpf: only the
# traced calls stop the program, so tracing costs little. -o: strace's lines apart from the program's.
STRACE_ARGV = ("strace", "--seccomp-bpf", "-f", "-qq", "-ttt", "-s", "64", "-e", "signal=none",
               "-e", "trace=%network,close")
# The child decodes and runs the program itself: compile() with the program's own file name, and
# linecache primed with its text, so that a traceback reads as if the file were on disk.
BOOT = (
    "import base64, linecache, os, sys, traceback\n"
    "name = sys.argv[1]\n"
    # Traced: the tracer's output descriptor is strace's, not the program's.
    "if os.environ.get('" + "SOCKLAB_TRACE_FD" + "'):\n"
    "    os.close(int(os.environ.pop('" + "SOCKLAB_TRACE_FD" + "')))\n"
    "source = base64.b64decode(os.environ.pop('" + SOURCE_ENV + "')).decode('utf-8')\n"
    "linecache.cache[name] = (len(source), None, source.splitlines(True), name)\n"
    "sys.argv = [name]\n"
    "try:\n"
    "    exec(compile(source, name, 'exec'), {'__name__': '__main__', '__file__': name,\n"
    "                                         '__builtins__': __builtins__})\n"
    "except SystemExit:\n"
    "    raise\n"
    "except BaseException as error:\n"
    # Python's own message, without this loader's frame: what `python3 NAME` would have printed.
    "    traceback.print_exception(type(error), error, error.__traceback__.tb_next)\n"
    "    sys.exit(1)\n"
)
# System call numbers worth naming in a hint (what a stuck socket program usually waits in).
SYSCALLS = {
    "x86_64": {0: "read", 7: "poll", 23: "select", 35: "nanosleep", 42: "connect", 43: "accept",
               45: "recvfrom", 47: "recvmsg", 61: "wait4", 202: "futex", 230: "clock_nanosleep",
               232: "epoll_wait", 270: "pselect6", 271: "ppoll", 281: "epoll_pwait", 288: "accept4"},
    "aarch64": {63: "read", 73: "ppoll", 72: "pselect6", 101: "nanosleep", 203: "connect",
                202: "accept", 207: "recvfrom", 212: "recvmsg", 260: "wait4", 98: "futex",
                115: "clock_nanosleep", 22: "epoll_pwait", 242: "accept4"},
}


def emit(event: str, **fields: object) -> None:
    sys.stdout.write(json.dumps({"event": event, "t": time.time(), **fields}) + "\n")
    sys.stdout.flush()


def where_blocked(pid: int) -> tuple[str | None, str]:
    """The system call a process waits in (from /proc/PID/syscall) and its scheduler state.

    A program of several threads (Java: its main thread runs in a thread of the JVM's launcher,
    which waits in futex()) is where any of its threads waits in a call worth naming.
    """
    try:
        threads = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task") if t.isdigit() and int(t) != pid)
    except OSError:
        threads = []
    own = _where_one(pid)
    if own[0] in (None, "futex", "wait4") and threads:
        for thread in threads:
            found = _where_one(pid, thread)
            if found[0] not in (None, "futex", "wait4", "nanosleep", "clock_nanosleep"):
                return found
    return own


def _where_one(pid: int, thread: int | None = None) -> tuple[str | None, str]:
    """One thread's system call and state (the process's main thread when `thread` is None)."""
    base = f"/proc/{pid}" if thread is None else f"/proc/{pid}/task/{thread}"
    state = "?"
    try:
        with open(f"{base}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        pass
    if state == "R":
        return None, "running"
    try:
        with open(f"{base}/syscall") as handle:
            number = handle.read().split()[0]
        name = SYSCALLS.get(platform.machine(), {}).get(int(number))
        return name, "sleeping" if state == "S" else state
    except (OSError, ValueError, IndexError):
        return None, "sleeping" if state == "S" else state


def bound_port(port: int) -> str | None:
    """'tcp' when a TCP socket listens on `port` in this network namespace, 'udp' when one is bound."""
    wanted = f":{port:04X}"
    for proto, path, listening_state in (("tcp", "tcp", "0A"), ("tcp", "tcp6", "0A"),
                                         ("udp", "udp", None), ("udp", "udp6", None)):
        try:
            with open(f"/proc/net/{path}") as handle:
                next(handle)
                for line in handle:
                    fields = line.split()
                    if fields[1].endswith(wanted) and (listening_state is None or fields[3] == listening_state):
                        return proto
        except (OSError, StopIteration):
            continue
    return None


def oom_kills() -> int:
    """How often the kernel killed a process of this container for memory, 0 if unknown."""
    for path in ("/sys/fs/cgroup/memory.events",                 # cgroup v2
                 "/sys/fs/cgroup/memory/memory.oom_control"):    # cgroup v1
        try:
            with open(path) as handle:
                for line in handle:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return 0


def become_supervisor() -> pwd.struct_passwd:
    """Leave root for (supervisor, student, supervisor) uids, without any capability; the student.

    Fails loudly rather than run a student's program beside a supervisor it could forge or kill.
    """
    if os.geteuid() != 0:
        raise PermissionError(f"must start as root (uid 0) with CAP_SETUID and CAP_SETGID to run the "
                              f"program as {STUDENT_USER!r} apart from itself; started as uid {os.geteuid()}")
    supervisor, student = pwd.getpwnam(SUPERVISOR_USER), pwd.getpwnam(STUDENT_USER)
    os.setgroups([])
    os.setresgid(supervisor.pw_gid, student.pw_gid, supervisor.pw_gid)
    os.setresuid(supervisor.pw_uid, student.pw_uid, supervisor.pw_uid)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)   # the uid change already did it; say it anyway
    with open("/proc/self/status") as handle:
        status = dict(line.split(":", 1) for line in handle if ":" in line)
    held = {key: status[key].strip() for key in ("CapPrm", "CapEff", "CapAmb") if int(status[key], 16)}
    if (os.getresuid() != (supervisor.pw_uid, student.pw_uid, supervisor.pw_uid) or held
            or libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0):
        raise PermissionError(f"could not leave root cleanly: uids {os.getresuid()}, capabilities {held}")
    return student


def as_student(student: pwd.struct_passwd, cpu_s: int) -> None:
    """In the program's process, before it starts: the student's user in full, and its limits."""
    os.setresgid(student.pw_gid, student.pw_gid, student.pw_gid)
    os.setresuid(student.pw_uid, student.pw_uid, student.pw_uid)
    if os.getresuid() != (student.pw_uid,) * 3:
        os._exit(NOT_STARTED_AS_ROOT)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    try:   # out of memory: the kernel picks the program, not the supervisor beside it
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")
    except OSError:
        pass


def unpacked(artifact_b64: str, run: list[str], home: str) -> list[str]:
    """The built files written into a fresh folder of `home`; the run argv with {dir} filled.

    Runs with the student's effective uid, so the files are the student's own. Names are the
    build's relative paths: one that would leave the folder is refused.
    """
    import tempfile
    import zlib

    files = json.loads(zlib.decompress(base64.b64decode(artifact_b64)))
    folder = tempfile.mkdtemp(prefix="program-", dir=home)
    for name, content in files.items():
        target = os.path.normpath(os.path.join(folder, name))
        if not target.startswith(folder + os.sep):
            raise ValueError(f"a built file outside its folder: {name!r}")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(base64.b64decode(content))
        os.chmod(target, 0o755)
    if not run:
        raise ValueError("no run command")
    return [part.replace("{dir}", folder) for part in run]


def exit_status(rc: int) -> int:
    """The program's status as a shell reports it: its exit code, or 128 + N for signal N.

    >>> exit_status(0), exit_status(3), exit_status(-9)
    (0, 3, 137)
    """
    return rc if rc >= 0 else 128 - rc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="the program's file name, e.g. UDPServer.py")
    parser.add_argument("--source-b64", default="", help="the (Python) program's bytes, base64")
    parser.add_argument("--input", default=None, help="one line for the program's standard input")
    parser.add_argument("--limit-s", type=float, default=5.0)
    parser.add_argument("--cpu-s", type=int, default=5)
    parser.add_argument("--output-bytes", type=int, default=65536)
    parser.add_argument("--max-wait-s", type=float, default=0.0,
                        help="judge the program's waits (a client): the longest timeout accepted; 0: do not")
    parser.add_argument("--grace-s", type=float, default=2.0,
                        help="how long a wait with no end is watched before it is judged")
    parser.add_argument("--trace", action="store_true", help="run the program under strace -f")
    parser.add_argument("--port", type=int, default=12000, help="report when a socket is bound on it")
    parser.add_argument("--artifact-b64", default=None,
                        help="a built program (student_build.py's artifact) instead of --source-b64's Python")
    parser.add_argument("--run-json", default=None, help="with --artifact-b64: the run argv ({dir}: where it is)")
    parser.add_argument("--stay", action="store_true",
                        help="after the program ends, stay until stopped: a server's host stays up, so "
                             "a client that comes later is refused (as by a real host), not left unanswered")
    args = parser.parse_args()
    try:
        student = become_supervisor()
    except (PermissionError, KeyError) as error:
        print(f"student_run.py: {error}", file=sys.stderr)
        return NOT_STARTED_AS_ROOT

    stopping = {"by": None}

    def stop(signum: int, frame: object) -> None:
        stopping["by"] = "stopped"

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8", SOURCE_ENV: args.source_b64,
           "HOME": student.pw_dir, "USER": student.pw_name, "LOGNAME": student.pw_name}
    argv = [sys.executable, "-u", "-c", BOOT, args.name]
    if args.artifact_b64:
        try:
            argv = unpacked(args.artifact_b64, json.loads(args.run_json or "[]"), student.pw_dir)
        except (OSError, ValueError) as error:
            print(f"student_run.py: cannot unpack the built program: {error}", file=sys.stderr)
            return NOT_STARTED_AS_ROOT
        env.pop(SOURCE_ENV, None)
    started = time.monotonic()
    oom_before = oom_kills()
    trace_read, passed = None, ()
    if args.trace:   # a program that kills its tracer is then this process's child (see the docstring)
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        trace_read, trace_write = os.pipe()
        argv = [*STRACE_ARGV, "-o", f"/dev/fd/{trace_write}", *argv]
        env[TRACE_FD_ENV], passed = str(trace_write), (trace_write,)
    child = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, pass_fds=passed,
        start_new_session=True, preexec_fn=lambda: as_student(student, args.cpu_s), cwd=student.pw_dir)
    for descriptor in passed:
        os.close(descriptor)
    program = Program(child, traced=args.trace)
    emit("started", name=args.name, pid=child.pid)
    assert child.stdin is not None and child.stdout is not None and child.stderr is not None
    try:
        if args.input is not None:
            child.stdin.write((args.input + "\n").encode())
        child.stdin.close()
    except BrokenPipeError:
        pass

    selector = selectors.DefaultSelector()
    selector.register(child.stdout, selectors.EVENT_READ, "stdout")
    selector.register(child.stderr, selectors.EVENT_READ, "stderr")
    if trace_read is not None:
        selector.register(trace_read, selectors.EVENT_READ, "trace")
    printed = traced = 0
    reason = "exited"
    announced = False
    stopped_at: float | None = None
    watch: waits.WaitWatch | None = None
    while selector.get_map():
        program.pid()   # found while strace lives: its tracee is its child until then
        if args.max_wait_s > 0 and program.pid() and (watch is None or watch.pid != program.pid()):
            watch = waits.WaitWatch(program.pid(), args.max_wait_s, args.grace_s)
        if reason != "exited" and stopped_at is None:
            stopped_at = time.monotonic()
        if stopped_at is not None and time.monotonic() - stopped_at > 1.0:
            break   # something that escaped the process group still holds the pipes: stop reading
        if stopping["by"] and reason == "exited":
            reason = "stopped"
            _stop(program, "stopped", args.limit_s)
        elapsed = time.monotonic() - started
        if elapsed > args.limit_s and reason == "exited":
            reason = "wall-clock"
            _stop(program, "wall-clock", args.limit_s, watch)
        if watch is not None and reason == "exited":
            judged = watch.verdict(time.monotonic())
            if judged:
                reason = judged
                _stop(program, judged, args.max_wait_s, watch)
        for key, _ in selector.select(timeout=0.05):
            descriptor = key.fileobj if isinstance(key.fileobj, int) else key.fileobj.fileno()  # type: ignore[union-attr]
            chunk = os.read(descriptor, 4096)
            if not chunk:
                selector.unregister(key.fileobj)
                continue
            if key.data == "trace":   # drained always (strace must never block), kept up to TRACE_BYTES
                kept = chunk[:max(0, TRACE_BYTES - traced)]
                traced += len(chunk)
                if kept:
                    emit("trace", text=kept.decode("utf-8", errors="replace"))
                continue
            kept = chunk[:max(0, args.output_bytes - printed)]
            printed += len(chunk)
            if kept:
                emit("output", stream=key.data, text=kept.decode("utf-8", errors="replace"))
            if printed > args.output_bytes and reason == "exited":
                reason = "output"
                _stop(program, "output", args.output_bytes)
        if not announced:
            proto = bound_port(args.port)
            if proto:
                announced = True
                emit("listening", proto=proto, port=args.port)
    rc = child.wait()
    if program.traced:
        rc = _program_status(program, rc)
    _kill_student()
    if rc < 0 and -rc == signal.SIGXCPU and reason == "exited":
        reason = "cpu"
    if rc < 0 and -rc == signal.SIGKILL and reason == "exited" and oom_kills() > oom_before:
        reason = "memory"
    emit("exited", rc=rc if rc >= 0 else None, signal=signal.Signals(-rc).name if rc < 0 else None,
         seconds=round(time.monotonic() - started, 3), reason=reason)
    while args.stay and not stopping["by"]:
        time.sleep(0.1)
    return exit_status(rc)


class Program:
    """The student's process: the child itself, or under --trace the child of strace (found in /proc)."""

    def __init__(self, child: subprocess.Popen, traced: bool) -> None:
        self.child, self.traced, self._pid = child, traced, None if traced else child.pid

    def pid(self) -> int | None:
        """The program's pid. Traced, strace's child that has exec'd the program: strace forks
        short-lived children of its own first (it tests ptrace and seccomp in them), so a child
        still named strace is not the program, and a remembered pid that is gone is looked up again."""
        if self.traced and self._pid is not None and not os.path.exists(f"/proc/{self._pid}"):
            self._pid = None
        if self._pid is None:
            self._pid = child_of(self.child.pid, not_named="strace")
        return self._pid


def _program_status(program: Program, tracer_rc: int) -> int:
    """The program's own status: strace's (it exits with its tracee's), unless the program
    outlived a killed tracer and became this subreaper's child; then it is waited for here (it
    has ended or closed its output: after a second it is killed)."""
    pid = program.pid()
    if pid is None or pid == program.child.pid:
        return tracer_rc
    for attempt in range(2):
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:   # strace reaped it: strace's status is the program's
                return tracer_rc
            if done:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.02)
        _kill_student()
    return tracer_rc


def child_of(parent: int, not_named: str = "") -> int | None:
    """The first process whose parent is ``parent`` (strace's tracee) and whose name is not
    ``not_named`` (a child that has not exec'd yet), None before it exists."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    stat = handle.read()
                name, rest = stat.split("(", 1)[1].rsplit(")", 1)
                if rest.split()[1] == str(parent) and name != not_named:
                    return int(entry)
            except (OSError, IndexError):
                continue
    return None


def _stop(program: Program, what: str, limit: float, watch: waits.WaitWatch | None = None) -> None:
    """Note where the program was (and the wait the kernel showed), then end it and all it started.

    Traced, the program goes first, so that strace writes the call it was stopped in
    (``recvfrom(3, <unfinished ...>) = ?``) before everything of the student's user is killed.
    """
    pid = program.pid() or program.child.pid
    blocked_in, state = where_blocked(pid)
    wait = {}
    if watch is not None and watch.wait is not None:
        wait = {"wait_timeout_s": watch.wait.timeout_s, "waited_s": round(watch.blocked_s, 2),
                "seen": watch.wait.seen}
    emit("limit", what=what, limit=limit, blocked_in=blocked_in, state=state, **wait)
    if program.traced and program.pid():
        try:
            os.kill(pid, signal.SIGKILL)
            program.child.wait(timeout=1.0)
        except (ProcessLookupError, PermissionError, subprocess.TimeoutExpired):
            pass
    _kill_student()


def _kill_student() -> None:
    """SIGKILL to every process of the student's user in this container, wherever it went.

    kill(-1) reaches each process this one may signal: exactly the student's (root's are out of
    reach, and a host runs one supervisor at a time). The kernel walks the process list under a
    lock that fork() also takes, so a fork bomb cannot outrun it.
    """
    try:
        os.kill(-1, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


if __name__ == "__main__":
    sys.exit(main())
