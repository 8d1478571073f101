"""The audio pacer: a burst ahead of the clock, then real time."""

from __future__ import annotations

from parley.pacing import AudioPacer

SECOND = 32_000  # bytes of one second of 16 kHz LINEAR16 mono


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_real_time():
    clock = Clock()
    pacer = AudioPacer(2.0, SECOND, clock)
    assert [pacer.take(SECOND // 10) for _ in range(20)] == [0.0] * 20  # 2 s at once: fine
    assert abs(pacer.take(SECOND // 2) - 0.5) < 1e-9  # 0.5 s more: wait 0.5 s
    clock.now += 0.5
    assert abs(pacer.take(SECOND) - 1.0) < 1e-9  # still at the limit: real time
    assert abs(pacer.throttled_s - 1.5) < 1e-9


def test_credit_comes_back_with_time_but_never_beyond_the_burst():
    clock = Clock()
    pacer = AudioPacer(1.0, SECOND, clock)
    assert pacer.take(SECOND) == 0.0
    clock.now += 60.0  # a long silence of the sender does not save up a minute of credit
    assert pacer.take(SECOND) == 0.0
    assert abs(pacer.take(SECOND) - 1.0) < 1e-9


def test_real_time_senders_are_never_held_back():
    clock = Clock()
    pacer = AudioPacer(0.5, SECOND, clock)
    for _ in range(600):
        assert pacer.take(SECOND // 10) == 0.0
        clock.now += 0.1


def test_zero_means_no_limit():
    pacer = AudioPacer(0.0, SECOND, Clock())
    assert pacer.take(SECOND * 3600) == 0.0 and not pacer.limited
