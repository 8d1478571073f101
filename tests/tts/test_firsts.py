"""First pieces first: later audio gives way to other streams' first audio, within its lead."""

from __future__ import annotations

import asyncio

from services.tts.firsts import MARGIN_S, FirstPieces


async def test_nobody_waits_when_no_stream_is_making_its_first_piece():
    firsts = FirstPieces()
    assert await firsts.give_way(ahead_s=1.0) == 0.0


async def test_a_later_piece_waits_until_the_other_streams_first_piece_is_out():
    firsts = FirstPieces()
    firsts.starting()
    loop = asyncio.get_running_loop()
    loop.call_later(0.03, firsts.started)
    waited = await firsts.give_way(ahead_s=1.0)
    assert 0.02 <= waited < 0.09
    assert firsts.waiting == 0 and await firsts.give_way(ahead_s=1.0) == 0.0


async def test_a_stream_never_waits_beyond_the_audio_it_has_sent_ahead():
    firsts = FirstPieces()
    firsts.starting()  # and never starts: a slow engine
    waited = await firsts.give_way(ahead_s=MARGIN_S + 0.03)
    assert 0.02 <= waited < 0.08, "at most its lead minus the margin"
    assert await firsts.give_way(ahead_s=MARGIN_S / 2) == 0.0, "no lead left: no wait"
    firsts.started()
    firsts.started()  # an extra call (a stream that ended twice) never goes negative
    assert firsts.waiting == 0
