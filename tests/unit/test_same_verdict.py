"""Same program, same verdict: the seed plumbing, the promised loss and the kernel-based judgement
of a student client's waits (images/apps/programs/waits.py), without Docker."""
from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path
from types import ModuleType

import pytest

from lab import catalog
from lab.checks import hints
from lab.grading import classroom
from lab.errors import ImpairmentSpecError, ParameterError
from lab.impairment.netem import NetemBackend
from lab.impairment.spec import Impairment
from lab.scenario.plan import (
    STUDENT_MAX_WAIT_S,
    STUDENT_WAIT_GRACE_S,
    build_plan,
    default_seed,
    promise_loss,
)
from lab.checks.student import limits_text
from lab.scenario.model import StudentProgram

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module   # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


waits = _load("socklab_waits", ROOT / "images/apps/programs/waits.py")
impaird = _load("socklab_impaird_promise", ROOT / "images/tools/impaird.py")


def _line(number: int, *args: int) -> str:
    padded = list(args) + [0] * (6 - len(args))
    return " ".join([str(number), *(hex(a) for a in padded), "0x7ffd0000", "0x7f0000"])


def _no_memory(address: int, size: int) -> bytes | None:
    raise AssertionError("no memory read expected")


# ----- what the kernel shows -----------------------------------------------------------------
@pytest.mark.parametrize("timeout_register, expected", [
    (5000, 5.0),                   # settimeout(5): poll(fds, 1, 5000)
    (1000, 1.0),
    (0, 0.0),
    (0xFFFFFFFF, None),            # -1 as a 32-bit int in a 64-bit register
    (0xFFFFFFFFFFFFFFFF, None),    # -1 sign-extended
])
def test_poll_timeout_in_milliseconds_and_minus_one_as_no_timeout(timeout_register, expected):
    wait = waits.parse_wait(_line(7, 0x7ffd1000, 1, timeout_register), "x86_64", _no_memory, None)
    assert wait.call == "poll" and wait.timeout_s == expected and wait.certain


def test_ppoll_and_select_read_their_timeout_through_the_pointer():
    memory = {0x1000: struct.pack("<qq", 2, 500_000_000), 0x2000: struct.pack("<qq", 3, 250_000)}

    def read(address: int, size: int) -> bytes:
        return memory[address][:size]

    ppoll = waits.parse_wait(_line(271, 0x10, 1, 0x1000), "x86_64", read, None)
    assert (ppoll.call, ppoll.timeout_s, ppoll.certain) == ("ppoll", 2.5, True)
    select = waits.parse_wait(_line(23, 4, 0x10, 0, 0, 0x2000), "x86_64", read, None)   # timeval: µs
    assert (select.call, select.timeout_s) == ("select", 3.25)
    aarch64 = waits.parse_wait(_line(73, 0x10, 1, 0x1000), "aarch64", read, None)
    assert (aarch64.call, aarch64.timeout_s) == ("ppoll", 2.5)


def test_a_null_timeout_pointer_is_no_timeout_and_an_unreadable_one_is_not_judged_as_forever():
    assert waits.parse_wait(_line(271, 0x10, 1, 0), "x86_64", _no_memory, None).timeout_s is None
    unreadable = waits.parse_wait(_line(271, 0x10, 1, 0x1000), "x86_64", lambda a, s: None, None)
    assert unreadable.timeout_s is not None and not unreadable.certain
    assert waits.judge(unreadable, 100.0, 10, 2) is None


def test_epoll_wait_takes_its_timeout_in_the_fourth_argument():
    wait = waits.parse_wait(_line(232, 5, 0x10, 1, 0xFFFFFFFF), "x86_64", _no_memory, None)
    assert (wait.call, wait.timeout_s) == ("epoll_wait", None)


def test_a_receive_on_a_blocking_socket_has_no_timeout_the_kernel_shows():
    blocking = waits.parse_wait(_line(45, 3, 0x10, 2048), "x86_64", _no_memory, lambda fd: False)
    assert (blocking.call, blocking.timeout_s, blocking.certain) == ("recvfrom", None, False)
    assert "no settimeout" in blocking.seen
    # the descriptor is read from argument 0
    seen = []
    waits.parse_wait(_line(45, 7, 0x10, 2048), "x86_64", _no_memory, lambda fd: seen.append(fd) or False)
    assert seen == [7]
    assert waits.parse_wait(_line(45, 3), "x86_64", _no_memory, lambda fd: True) is None      # non-blocking
    assert waits.parse_wait(_line(45, 3), "x86_64", _no_memory, lambda fd: None) is None      # unknown


@pytest.mark.parametrize("line", ["running", "", "-1 0x7ffd 0x7f", _line(35, 0x1000), _line(9999, 1)])
def test_running_a_sleep_or_an_unknown_call_is_no_wait_to_judge(line):
    assert waits.parse_wait(line, "x86_64", _no_memory, lambda fd: False) is None


# ----- the judgement ---------------------------------------------------------------------------
def test_judge_waits_forever_after_the_grace_or_the_accepted_maximum_for_a_blocking_receive():
    forever = waits.Wait("poll", None, True, "poll(..., -1)")
    assert waits.judge(forever, 1.99, 10, 2) is None
    assert waits.judge(forever, 2.0, 10, 2) == waits.WAITS_FOREVER
    blocking = waits.Wait("recvfrom", None, False, "")
    assert waits.judge(blocking, 9.99, 10, 2) is None          # SO_RCVTIMEO would be invisible
    assert waits.judge(blocking, 10.0, 10, 2) == waits.WAITS_FOREVER


def test_judge_accepts_a_timeout_up_to_the_limit_however_long_it_waits():
    for timeout in (1.0, 5.0, 10.0):
        assert waits.judge(waits.Wait("poll", timeout, True, ""), 1000.0, 10, 2) is None
    too_long = waits.Wait("poll", 60.0, True, "")
    assert waits.judge(too_long, 1.0, 10, 2) is None            # a reply may still come
    assert waits.judge(too_long, 2.0, 10, 2) == waits.TIMEOUT_TOO_LONG
    assert waits.judge(None, 1000.0, 10, 2) is None


def test_the_watch_counts_how_long_the_same_wait_lasts_and_starts_again_on_a_new_one():
    poll_forever = (_line(7, 0x10, 1, 0xFFFFFFFF), waits.Wait("poll", None, True, "poll(..., -1)"))
    other = (_line(7, 0x20, 1, 0xFFFFFFFF), waits.Wait("poll", None, True, "poll(..., -1)"))
    script = iter([poll_forever, poll_forever, ("running", None), poll_forever, other, other])
    watch = waits.WaitWatch(1, max_wait_s=10, grace_s=2, look=lambda pid: next(script))
    assert watch.verdict(0.0) is None
    assert watch.verdict(1.5) is None and watch.blocked_s == 1.5
    assert watch.verdict(1.6) is None and watch.blocked_s == 0.0     # it ran: the wait is over
    assert watch.verdict(2.0) is None and watch.blocked_s == 0.0     # a new wait
    assert watch.verdict(2.5) is None and watch.blocked_s == 0.0     # another call: counted anew
    assert watch.verdict(4.5) == waits.WAITS_FOREVER


def test_a_real_python_socket_with_settimeout_waits_in_poll_with_its_timeout():
    """The premise, on this machine's kernel: settimeout(5) is poll(..., 5000) on a non-blocking socket."""
    import socket
    import subprocess
    import time

    program = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 0)); "
               "s.settimeout({}); print('ready', flush=True); s.recvfrom(10)")
    for timeout, expected in (("5", 5.0), ("None", None)):
        child = subprocess.Popen([sys.executable, "-c", program.format(timeout)], stdout=subprocess.PIPE)
        try:
            assert child.stdout and child.stdout.readline() == b"ready\n"
            wait = None
            for _ in range(100):
                line, wait = waits.current_wait(child.pid)
                if wait is not None:
                    break
                time.sleep(0.02)
            if wait is None and "x86_64" not in (waits.platform.machine(), "aarch64"):
                pytest.skip("no syscall table for this architecture")
            assert wait is not None, line
            assert wait.timeout_s == expected
            assert wait.call == ("poll" if expected else "recvfrom") or wait.call == "ppoll"
        finally:
            child.kill()
            child.wait()
    del socket


# ----- the promised loss (impaird) ---------------------------------------------------------------
def _drops(spec_fields: dict, packets: int) -> list[int]:
    decider = impaird.Decider(impaird.Spec(**spec_fields))
    return [n for n in range(1, packets + 1) if decider.decide(0.0, 100).drop]


def test_a_promised_loss_drops_the_nth_packet_when_none_before_was_lost():
    # find seeds whose own draws lose none of the first 6 packets at 50%
    lucky = [seed for seed in range(200) if not [d for d in _drops({"loss_pct": 50, "seed": seed}, 6)]]
    assert lucky, "some seed loses none of 6 at 50%"
    for seed in lucky:
        promised = _drops({"loss_pct": 50, "seed": seed, "loss_within": 6}, 20)
        unpromised = _drops({"loss_pct": 50, "seed": seed}, 20)
        assert promised[0] == 6
        assert [d for d in promised if d != 6] == unpromised, "every other choice is the seed's own"


def test_a_promised_loss_changes_nothing_when_the_seed_already_loses_one():
    for seed in range(50):
        own = _drops({"loss_pct": 50, "seed": seed}, 20)
        if own and own[0] <= 6:
            assert _drops({"loss_pct": 50, "seed": seed, "loss_within": 6}, 20) == own


def test_no_loss_no_promise_and_the_same_seed_the_same_drops():
    assert _drops({"loss_pct": 0, "seed": 1, "loss_within": 3}, 10) == []
    assert _drops({"loss_pct": 30, "seed": 9, "loss_within": 6}, 50) == \
        _drops({"loss_pct": 30, "seed": 9, "loss_within": 6}, 50)
    with pytest.raises(ValueError, match="loss_within"):
        impaird.Spec(loss_within=0).check()


def test_the_lab_spec_carries_the_promise_and_netem_refuses_it():
    spec = promise_loss(Impairment(loss_pct=50, seed=1), 6)
    assert spec.loss_within == 6 and "at least one of the first 6 packets lost" in spec.describe()
    assert impaird.Spec(**spec.to_dict()).loss_within == 6, "impaird takes the lab's spec as written"
    with pytest.raises(ImpairmentSpecError, match="netem cannot promise"):
        NetemBackend().check(spec)
    assert promise_loss(Impairment(delay_ms=10), 6).loss_within is None
    with pytest.raises(ImpairmentSpecError, match="loss_within"):
        Impairment(loss_pct=5, loss_within=0)


# ----- the seed of a student's run -----------------------------------------------------------
def _program(name: str = "UDPClient.py") -> StudentProgram:
    return StudentProgram(name, name, "print(input())\n", "0" * 64)


def test_a_student_run_under_loss_gets_the_scenarios_own_seed_and_the_promise():
    plan = build_plan(catalog.load("udp-loss"), {}, students={"client": _program()})
    assert plan.seed == default_seed("udp-loss") and plan.seed_source == "default"
    assert plan.parameters["seed"] == plan.seed
    client = plan.instance("client")
    assert [spec.loss_within for spec in client.impairments] == [6]
    assert all(spec.seed is not None for spec in client.impairments)
    again = build_plan(catalog.load("udp-loss"), {}, students={"client": _program()})
    assert again.instance("client").impairments == client.impairments, "the same plan every time"


def test_seed_given_wins_and_a_lab_run_stays_unseeded():
    plan = build_plan(catalog.load("udp-loss"), {}, seed="7", students={"client": _program()})
    assert (plan.seed, plan.seed_source) == (7, "--seed")
    assert build_plan(catalog.load("udp-loss"), {}).seed is None
    assert build_plan(catalog.load("udp-echo"), {}, students={"client": _program()}).seed is None


def test_a_forced_netem_backend_is_refused_for_a_promised_loss():
    with pytest.raises(ParameterError, match="netem cannot promise"):
        build_plan(catalog.load("udp-loss"), {}, impair_backend="netem", students={"client": _program()})


def test_a_student_client_is_judged_by_its_waits_and_a_server_is_not():
    plan = build_plan(catalog.load("udp-echo"), {}, students={"client": _program(),
                                                                       "server": _program("UDPServer.py")})
    client, server = plan.instance("client").argv, plan.instance("server").argv
    assert client[client.index("--max-wait-s") + 1] == f"{STUDENT_MAX_WAIT_S:g}"
    assert client[client.index("--grace-s") + 1] == f"{STUDENT_WAIT_GRACE_S:g}"
    assert "--max-wait-s" not in server
    assert plan.slot("client").limit_s >= 3 * STUDENT_MAX_WAIT_S, "the wall clock sits well above any timeout"


def test_the_wall_clock_of_every_student_client_sits_well_above_the_accepted_timeout():
    for name in catalog.available():
        slot = catalog.load(name).students.get("client")
        if slot is not None:
            assert slot.limit_s >= 3 * STUDENT_MAX_WAIT_S, name


def test_every_limit_a_student_can_hit_is_a_number_in_the_docs_and_the_report():
    grading = (ROOT / "docs" / "grading.md").read_text()
    waits = grading[grading.index("### A client's waits are judged from the kernel"):]
    waits = waits[:waits.index("\n### ", 1)]
    text = limits_text(30)
    for number in (f"{STUDENT_MAX_WAIT_S:g} s", f"{STUDENT_WAIT_GRACE_S:g} s", "30 s"):
        assert number in text and number in waits


# ----- where the seed is shown ------------------------------------------------------------------
def test_the_gradebook_names_each_runs_seed():
    rows = [classroom.GradeRow("ada", "udp-loss", "client", "passed", document={"seed": 42, "checks": []}),
            classroom.GradeRow("ada", "udp-echo", "client", "passed", document={"checks": []})]
    csv_text = classroom.gradebook_csv(rows)
    assert csv_text.splitlines()[1].endswith(",42") and csv_text.splitlines()[2].endswith(",")
    assert "udp-loss 42" in classroom.gradebook_markdown(rows)


def test_the_hint_of_a_judged_wait_names_what_the_kernel_showed():
    forever = {"what": "waits-forever", "limit": 10, "blocked_in": "recvfrom", "waited_s": 10.02,
               "seen": "recvfrom() on a blocking socket (no settimeout)", "wait_timeout_s": None}
    hint = hints.limit_hint(forever, "client", 30)
    assert "would wait forever in recvfrom()" in hint and "blocked 10.02 s" in hint and "settimeout" in hint
    too_long = {"what": "timeout-too-long", "limit": 10, "blocked_in": "poll", "wait_timeout_s": 60,
                "seen": "poll(..., 60000 ms)", "waited_s": 2.0}
    assert "timeout of 60 s is longer than the 10 s the lab accepts" in hints.limit_hint(too_long, "client", 30)
