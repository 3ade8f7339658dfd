"""Runs that cannot teach anything are refused before anything exists; long ones say so."""
import pytest

from lab.scenario import feasibility

from lab import catalog
from lab.errors import ParameterError
from lab.scenario.plan import build_plan


def plan(name, **overrides):
    return build_plan(catalog.load(name), {k: str(v) for k, v in overrides.items()})


def test_a_delay_at_or_above_the_timeout_is_refused_with_the_arithmetic():
    with pytest.raises(ParameterError) as caught:
        feasibility.check(plan("udp-delay", delay="10s"))
    message = str(caught.value)
    assert caught.value.exit_code == 2
    assert "--timeout 2 s" in message and "delay 10000 ms + jitter 0 ms + base RTT ~1 ms = 10001 ms" in message
    assert "Raise --timeout above 10.001 s" in message


def test_jitter_counts_and_a_timeout_above_the_rtt_is_fine():
    with pytest.raises(ParameterError, match="jitter 1950 ms"):
        feasibility.check(plan("udp-delay", delay="100ms", jitter="1950ms"))
    feasibility.check(plan("udp-delay", delay="1900ms", timeout="2", count="5"))
    with pytest.raises(ParameterError, match="Raise --timeout above 0.301 s"):
        feasibility.check(plan("udp-loss", delay="300ms"))
    feasibility.check(plan("udp-loss", delay="300ms", timeout="0.5"))


def test_the_delay_of_the_server_side_and_of_both_directions_counts():
    scenario = catalog.parse("s", {
        "lesson": "Both ways.", "parameters": {},
        "hosts": [{"name": "server", "program": "udp-server", "impair": {"delay": "600ms", "direction": "both"}},
                  {"name": "client", "program": "udp-client", "args": ["--host", "server", "--timeout", "1"]}],
        "steps": [{"start": "server"}, {"run": "client"}]})
    with pytest.raises(ParameterError, match="delay 1200 ms"):
        feasibility.check(build_plan(scenario, {}))


def test_a_datagram_larger_than_udp_allows_is_refused():
    feasibility.check(plan("udp-echo", message="x" * 65_000))
    with pytest.raises(ParameterError) as caught:
        feasibility.check(plan("udp-echo", message="x" * 65_507))
    assert "65,507" in str(caught.value) and "--message" in str(caught.value)


def test_a_run_longer_than_the_scenario_allows_is_refused():
    with pytest.raises(ParameterError, match="time limit of 300 s"):
        feasibility.check(plan("udp-delay", delay="5s", timeout="10", count="100"))


def test_expected_duration_counts_timeouts_of_lost_datagrams():
    quick = feasibility.expected_seconds(plan("udp-loss"))
    assert 4 < quick < 15    # 100 × (0.8 × 1 ms + 0.2 × 0.25 s) ≈ 5 s + start-up
    slow = feasibility.expected_seconds(plan("udp-delay", delay="1s", timeout="5", count="100"))
    assert slow > 100        # 100 datagrams, each a 1 s round trip
    parallel = feasibility.expected_seconds(plan("udp-multi-client", clients="10", timeout="1"))
    assert parallel < 10     # clients at once: the longest counts, not the sum


def test_a_rate_too_low_for_one_datagram_or_the_transfer_is_refused():
    with pytest.raises(ParameterError, match="on the rate-limited link"):
        feasibility.check(plan("udp-loss", rate="5"))
    feasibility.check(plan("udp-loss", rate="100kbit"))
    with pytest.raises(ParameterError, match="time limit of 600 s"):
        feasibility.check(plan("tcp-loss", rate="10kbit"))
    feasibility.check(plan("tcp-loss", rate="1mbit"))


def test_options_that_are_not_numbers_fall_back_to_the_programs_defaults():
    scenario = catalog.parse("s", {
        "lesson": "Odd options.", "parameters": {},
        "hosts": [{"name": "server", "program": "udp-server"},
                  {"name": "client", "program": "udp-client", "args": ["--host", "server", "--timeout", "soon"],
                   "impair": {"delay": "1500ms"}}],
        "steps": [{"start": "server"}, {"run": "client"}]})
    with pytest.raises(ParameterError, match="--timeout 1 s"):   # udp_client.py's own default
        feasibility.check(build_plan(scenario, {}))
