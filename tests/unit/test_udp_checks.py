"""udp-loss's "client never blocks past its timeout" over records shaped like real runs
(timeout 250 ms, 100 ms of scheduling slack)."""
from lab.checks import REGISTRY
from tests.report_samples import udp_loss_record


def with_timeouts(*waits: dict) -> object:
    """The udp-loss sample record with its two timeouts replaced by `waits` (waited_ms, runnable_ms)."""
    record = udp_loss_record()
    timeouts = iter(waits)
    for event in record.clients[0].events:
        if event["event"] == "timeout":
            event.clear()
            event.update({"event": "timeout", "seq": 0, **next(timeouts)})
    return record


def verdict(*waits: dict):
    return REGISTRY["client_never_blocks"](with_timeouts(*waits))


def test_waits_that_end_by_the_timeout_pass():
    result = verdict({"waited_ms": 250.4}, {"waited_ms": 251.0})
    assert result.passed and result.detail.startswith("2 timeouts, longest wait 251 ms; blocked at most 251 ms (limit 250 ms")


def test_a_wait_past_timeout_and_slack_fails():
    assert not verdict({"waited_ms": 250.4}, {"waited_ms": 367.0}).passed


def test_time_spent_waiting_for_a_cpu_is_not_blocking():
    """Seen with four jobs and four busy loops on two cores: 367 ms, of which the kernel counted
    140 ms ready to run: the timeout fired on time, the CPU came late."""
    result = verdict({"waited_ms": 250.4, "runnable_ms": 0.2}, {"waited_ms": 367.0, "runnable_ms": 140.0})
    assert result.passed
    assert "longest wait 367 ms, 140 ms of it waiting for a CPU; blocked at most 250 ms" in result.detail
    # ... but only that part: blocked beyond timeout + slack even after it, it fails.
    blocked = verdict({"waited_ms": 250.4}, {"waited_ms": 500.0, "runnable_ms": 100.0})
    assert not blocked.passed and "longest wait 500 ms, 100 ms of it waiting for a CPU; blocked at most 400 ms" in blocked.detail
