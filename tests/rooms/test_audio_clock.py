"""The clock that times a speaker's endpointing stage counts each recognition stream's audio."""

from __future__ import annotations

from services.rooms.speaker import AudioClock

BYTES_PER_MS = 32  # 16 kHz LINEAR16 mono


def test_offsets_map_to_when_that_audio_arrived():
    clock = AudioClock(BYTES_PER_MS)
    clock.mark(100 * BYTES_PER_MS)
    first = clock.wall_time(50)
    clock.mark(100 * BYTES_PER_MS)
    assert clock.wall_time(100) == first
    assert clock.wall_time(150) > first
    assert clock.wall_time(250) is None  # not arrived yet


def test_a_new_stream_counts_its_audio_from_zero():
    clock = AudioClock(BYTES_PER_MS)
    clock.mark(100 * BYTES_PER_MS)
    clock.mark(100 * BYTES_PER_MS)
    old = clock.wall_time(150)
    clock.restart()
    assert clock.wall_time(50) is None
    clock.mark(100 * BYTES_PER_MS)
    # The new stream's 50 ms is its own first chunk, not the old stream's.
    assert clock.wall_time(50) > old
    assert clock.wall_time(150) is None
