"""Exact tc argv of the netem backend, per field and per direction, and its verification."""
from __future__ import annotations

import pytest

from lab.errors import ImpairmentNotInForce, ImpairmentSpecError, ImpairmentUnavailable
from lab.impairment import BACKENDS, Command, CommandResult, get_backend, run_commands
from lab.impairment.netem import NetemBackend, ifb_name, parse_netem_show
from lab.impairment.spec import Impairment, parse_impairment

ZERO = ["delay", "0ms", "0ms", "loss", "0%", "duplicate", "0%", "reorder", "0%", "corrupt", "0%",
        "rate", "0bit"]


def argvs(commands: list[Command]) -> list[list[str]]:
    return [c.argv for c in commands]


def netem_line(fields: dict[str, str], dev: str = "eth0") -> list[list[str]]:
    return argvs(NetemBackend().apply_commands(parse_impairment(fields)))


def test_registry() -> None:
    assert BACKENDS["netem"] == "lab.impairment.netem:NetemBackend"
    assert isinstance(get_backend("netem"), NetemBackend)
    assert get_backend("netem").name == "netem"
    with pytest.raises(ImpairmentSpecError, match="netem, userspace"):
        get_backend("bogus")


def test_empty_spec_writes_every_field_zero() -> None:
    assert netem_line({}) == [["tc", "qdisc", "replace", "dev", "eth0", "root", "netem", *ZERO]]


@pytest.mark.parametrize(
    ("fields", "changed"),
    [
        ({"delay": "50ms"}, {1: "50ms"}),
        ({"delay": "0.5s"}, {1: "500ms"}),
        ({"delay": "200us"}, {1: "200us"}),
        ({"loss": "20%"}, {4: "20%"}),
        ({"loss": "0.5%"}, {4: "0.5%"}),
        ({"duplicate": "1%"}, {6: "1%"}),
        ({"delay": "10ms", "reorder": "25%"}, {1: "10ms", 8: "25%"}),
        ({"corrupt": "0.1%"}, {10: "0.1%"}),
        ({"rate": "1mbit"}, {12: "1mbit"}),
        ({"rate": "1mbps"}, {12: "8mbit"}),
        ({"rate": "512kbit"}, {12: "512kbit"}),
    ],
)
def test_each_field(fields: dict[str, str], changed: dict[int, str]) -> None:
    expected = list(ZERO)
    for index, value in changed.items():
        expected[index] = value
    assert netem_line(fields) == [["tc", "qdisc", "replace", "dev", "eth0", "root", "netem", *expected]]


def test_jitter_with_table_distribution() -> None:
    assert netem_line({"delay": "50ms", "jitter": "10ms", "distribution": "normal", "loss": "20%",
                       "rate": "1mbit", "interface": "eth1"}) == [[
        "tc", "qdisc", "replace", "dev", "eth1", "root", "netem", "delay", "50ms", "10ms",
        "distribution", "normal", "loss", "20%", "duplicate", "0%", "reorder", "0%",
        "corrupt", "0%", "rate", "1mbit",
    ]]


@pytest.mark.parametrize("distribution", [None, "uniform"])
def test_default_distribution_deletes_stale_table_first(distribution: str | None) -> None:
    commands = NetemBackend().apply_commands(
        parse_impairment({"delay": "50ms", "jitter": "10ms", "distribution": distribution}))
    assert commands[0] == Command(["tc", "qdisc", "del", "dev", "eth0", "root"], check=False)
    assert commands[1].argv[7:10] == ["delay", "50ms", "10ms"]
    assert "distribution" not in commands[1].argv  # tc ships no uniform.dist; it is netem's default
    assert len(commands) == 2


def test_seed_is_written_when_given() -> None:
    assert netem_line({"loss": "5%", "seed": "42"})[0][-2:] == ["seed", "42"]


def test_ingress_goes_through_ifb() -> None:
    commands = NetemBackend().apply_commands(parse_impairment({"direction": "ingress",
                                                               "delay": "50ms"}))
    assert argvs(commands) == [
        ["ip", "link", "add", "ifb-eth0", "type", "ifb"],
        ["ip", "link", "set", "ifb-eth0", "up"],
        ["tc", "qdisc", "replace", "dev", "eth0", "handle", "ffff:", "ingress"],
        ["tc", "filter", "replace", "dev", "eth0", "parent", "ffff:", "protocol", "all", "prio", "1",
         "handle", "800::800", "u32", "match", "u32", "0", "0",
         "action", "mirred", "egress", "redirect", "dev", "ifb-eth0"],
        ["tc", "qdisc", "replace", "dev", "ifb-eth0", "root", "netem", "delay", "50ms", "0ms",
         *ZERO[3:]],
    ]
    assert commands[0].tolerate == ("File exists",)
    assert all(c.check for c in commands)


def test_both_directions() -> None:
    commands = argvs(NetemBackend().apply_commands(parse_impairment({"direction": "both",
                                                                     "loss": "1%"})))
    netem_devices = [argv[4] for argv in commands if argv[:3] == ["tc", "qdisc", "replace"]
                     and "netem" in argv]
    assert netem_devices == ["eth0", "ifb-eth0"]
    assert len(commands) == 6


def test_apply_twice_is_identical() -> None:
    spec = parse_impairment({"delay": "5ms", "loss": "1%", "direction": "both"})
    assert NetemBackend().apply_commands(spec) == NetemBackend().apply_commands(spec)


def test_ifb_name_fits_ifnamsiz() -> None:
    assert ifb_name("eth0") == "ifb-eth0"
    assert len(ifb_name("abcdefghijklmno")) <= 15
    assert ifb_name("abcdefghijklmno") != ifb_name("abcdefghijklmnp")


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        ("egress", [["tc", "qdisc", "del", "dev", "eth0", "root"]]),
        ("ingress", [["tc", "qdisc", "del", "dev", "eth0", "handle", "ffff:", "ingress"],
                     ["ip", "link", "del", "ifb-eth0"]]),
        ("both", [["tc", "qdisc", "del", "dev", "eth0", "root"],
                  ["tc", "qdisc", "del", "dev", "eth0", "handle", "ffff:", "ingress"],
                  ["ip", "link", "del", "ifb-eth0"]]),
    ],
)
def test_clear(direction: str, expected: list[list[str]]) -> None:
    commands = NetemBackend().clear_commands(Impairment(direction=direction))
    assert argvs(commands) == expected
    assert not any(c.check for c in commands)


class FakeRunner:
    def __init__(self, answers: dict[str, CommandResult]) -> None:
        self.answers = answers
        self.ran: list[list[str]] = []

    def run(self, argv: list[str]) -> CommandResult:
        self.ran.append(argv)
        return self.answers.get(" ".join(argv), CommandResult(0, "", ""))


def test_clear_on_clean_interface_does_not_raise() -> None:
    runner = FakeRunner({"tc qdisc del dev eth0 root":
                         CommandResult(2, "", "Error: Cannot delete qdisc with handle of zero.")})
    results = run_commands(runner, NetemBackend().clear_commands(Impairment()))
    assert results[0].rc == 2


def test_apply_failure_raises_unavailable() -> None:
    argv = "tc qdisc replace dev eth0 root netem " + " ".join(ZERO)
    runner = FakeRunner({argv: CommandResult(2, "", "Error: Specified qdisc kind is unknown.")})
    with pytest.raises(ImpairmentUnavailable, match="qdisc kind is unknown"):
        run_commands(runner, NetemBackend().apply_commands(Impairment()))


def test_ifb_exists_is_tolerated() -> None:
    runner = FakeRunner({"ip link add ifb-eth0 type ifb":
                         CommandResult(2, "", "RTNETLINK answers: File exists")})
    run_commands(runner, NetemBackend().apply_commands(Impairment(direction="ingress")))
    assert len(runner.ran) == 5


SHOW = ("qdisc netem 8001: root refcnt 2 limit 1000 delay 50ms  10ms loss 20% duplicate 1% "
        "reorder 5% corrupt 0.5% rate 1Mbit gap 1\n")


def test_parse_show() -> None:
    seen = parse_netem_show(SHOW)
    assert seen is not None
    assert seen["delay"] == ["50ms", "10ms"] and seen["rate"] == ["1Mbit"] and seen["gap"] == ["1"]
    assert parse_netem_show("qdisc noqueue 0: root refcnt 2\n") is None
    assert parse_netem_show("qdisc netem 8002: parent 1:1 limit 1000 delay 5ms\n") is None


def test_verify_accepts_matching_egress() -> None:
    spec = parse_impairment({"delay": "50ms", "jitter": "10ms", "distribution": "normal",
                             "loss": "20%", "duplicate": "1%", "reorder": "5%", "corrupt": "0.5%",
                             "rate": "1mbit"})
    backend = NetemBackend()
    assert argvs(backend.verify_commands(spec)) == [["tc", "qdisc", "show", "dev", "eth0"]]
    backend.verify(spec, [CommandResult(0, SHOW, "")])


def test_verify_accepts_tc_rounding() -> None:
    spec = parse_impairment({"delay": "1234ms", "loss": "33.33%"})
    show = "qdisc netem 8001: root refcnt 2 limit 1000 delay 1.23s loss 33.33%\n"
    NetemBackend().verify(spec, [CommandResult(0, show, "")])


@pytest.mark.parametrize(
    ("show", "fragment"),
    [
        ("qdisc noqueue 0: root refcnt 2\n", "no root netem qdisc on eth0"),
        ("qdisc netem 8001: root refcnt 2 limit 1000 delay 50ms loss 10%\n", "loss: want 20"),
        ("qdisc netem 8001: root refcnt 2 limit 1000 loss 20%\n", "delay: want 50"),
    ],
)
def test_verify_rejects(show: str, fragment: str) -> None:
    spec = parse_impairment({"delay": "50ms", "loss": "20%"})
    with pytest.raises(ImpairmentNotInForce, match=fragment):
        NetemBackend().verify(spec, [CommandResult(0, show, "")])


def test_verify_ingress_checks_redirect() -> None:
    spec = parse_impairment({"delay": "50ms", "direction": "ingress"})
    backend = NetemBackend()
    assert argvs(backend.verify_commands(spec)) == [
        ["tc", "qdisc", "show", "dev", "ifb-eth0"],
        ["tc", "filter", "show", "dev", "eth0", "parent", "ffff:"],
    ]
    qdisc = CommandResult(0, "qdisc netem 8001: root refcnt 2 limit 1000 delay 50ms\n", "")
    good = CommandResult(0, "filter ... action order 1: mirred (Egress Redirect to device ifb-eth0) "
                            "stolen\n", "")
    backend.verify(spec, [qdisc, good])
    with pytest.raises(ImpairmentNotInForce, match="not redirected"):
        backend.verify(spec, [qdisc, CommandResult(0, "", "")])


def test_verify_wrong_result_count() -> None:
    with pytest.raises(ImpairmentNotInForce, match="results"):
        NetemBackend().verify(Impairment(), [])
