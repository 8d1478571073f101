"""The room's record of audio no final result has covered: what a new stream is given again."""

from __future__ import annotations

from services.rooms.unrecognised import Unrecognised

BYTES_PER_MS = 32  # 16 kHz PCM16


def test_a_final_drops_the_chunks_it_covers_and_a_partly_covered_one_stays():
    held = Unrecognised(BYTES_PER_MS, limit_bytes=100_000)
    for _ in range(3):
        held.sent(b"\0" * 3200)  # 100 ms each
    held.covered(150)  # the first chunk ends at 100 ms, the second at 200 ms
    assert held.take() == [b"\0" * 3200] * 2
    assert len(held) == 0 and held.take() == []


def test_offsets_start_again_for_the_next_stream():
    held = Unrecognised(BYTES_PER_MS, limit_bytes=100_000)
    held.sent(b"a" * 3200)
    held.take()
    held.sent(b"b" * 3200)
    held.covered(100)  # the new stream's first 100 ms
    assert held.take() == []


def test_memory_is_bounded_by_dropping_the_oldest_audio():
    held = Unrecognised(BYTES_PER_MS, limit_bytes=10_000)
    for i in range(10):
        held.sent(bytes([i]) * 3200)
    assert len(held) <= 10_000
    assert held.take() == [bytes([i]) * 3200 for i in (7, 8, 9)]
