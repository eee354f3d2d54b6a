"""The shared request throttle, on a fake clock: no real sleeping."""

from __future__ import annotations

import pytest

from usage_monitor.leegality.throttle import RequestThrottle


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_unlimited_throttle_never_waits() -> None:
    fake = FakeTime()
    throttle = RequestThrottle(None, clock=fake.clock, sleep=fake.sleep)

    waits = [throttle.acquire() for _ in range(1000)]

    assert waits == [0.0] * 1000
    assert fake.slept == []


def test_rate_limit_spaces_requests_after_the_burst() -> None:
    fake = FakeTime()
    throttle = RequestThrottle(5, clock=fake.clock, sleep=fake.sleep)

    for _ in range(15):
        throttle.acquire()

    # A burst of 5, then 10 more at 5 a second: 2 seconds in all.
    assert fake.now - 100.0 == pytest.approx(2.0)


def test_pause_holds_every_caller_even_without_a_rate() -> None:
    fake = FakeTime()
    throttle = RequestThrottle(None, clock=fake.clock, sleep=fake.sleep)

    throttle.pause(3.0)
    waited = throttle.acquire()

    assert waited == pytest.approx(3.0)
    assert throttle.acquire() == 0.0


def test_a_shorter_pause_never_shortens_a_longer_one() -> None:
    fake = FakeTime()
    throttle = RequestThrottle(None, clock=fake.clock, sleep=fake.sleep)

    throttle.pause(5.0)
    throttle.pause(1.0)

    assert throttle.acquire() == pytest.approx(5.0)


@pytest.mark.parametrize("rate", [0, -1])
def test_rate_must_be_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        RequestThrottle(rate)
