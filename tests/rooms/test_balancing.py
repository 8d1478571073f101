"""The room service balances its calls over several servers of a stateless service: with
PARLEY_STT_ADDRESS listing two real STT processes, recognition streams go round robin to both
(gRPC's round_robin policy with client-side health checking), and when one dies the other
recognises everything."""

from __future__ import annotations

import re
import sys
import urllib.request

import grpc
import numpy as np
import pytest

from parley.server import ServerConfig, running
from parley.v1 import rooms_pb2, rooms_pb2_grpc
from services.rooms.backends import channel_target
from services.rooms.config import RoomsConfig
from services.rooms.servicer import service as rooms_service
from tests.rooms.conftest import Participant, join
from tests.speech import silence, speak, wer

pytestmark = pytest.mark.engines  # real STT processes

LOOPBACK = ServerConfig(host="127.0.0.1", port=0, auth="disabled")
RECOGNIZE = "/parley.v1.SpeechToTextService/StreamingRecognize"
WATCH = "/grpc.health.v1.Health/Watch"
LINES = ["Good morning everyone.", "Thank you very much.", "See you tomorrow.", "It is raining."]


def utterance(text: str) -> np.ndarray:
    return np.concatenate([silence(0.3), speak(text, "en"), silence(1.2)])


def open_calls(stt, method: str) -> int:
    """Calls of ``method`` open on an STT process now, read from its /metrics."""
    (port,) = [r["port"] for r in stt.log if r.get("event") == "metrics endpoint"]
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    found = re.search(rf'parley_rpc_open_calls{{method="{re.escape(method)}"}} (\S+)', text)
    return int(float(found.group(1))) if found else 0


def test_address_lists_become_balanced_targets():
    assert channel_target("127.0.0.1:5001") == ("127.0.0.1:5001", False)
    assert channel_target("127.0.0.1:5001, 127.0.0.1:5002") == (
        "ipv4:127.0.0.1:5001,127.0.0.1:5002",
        True,
    )
    assert channel_target("[::1]:5001,[::1]:5002") == ("ipv6:[::1]:5001,[::1]:5002", True)
    assert channel_target("dns:///stt.parley.svc:50052") == ("dns:///stt.parley.svc:50052", True)
    with pytest.raises(Exception, match="dns:///NAME:PORT"):
        channel_target("stt-1:50052,stt-2:50052", "PARLEY_STT_ADDRESS")


async def test_recognition_round_robin_over_two_stt_processes_survives_one_dying(spawn):
    env = {
        "PARLEY_STT_MODEL": "whisper-tiny.en",
        "PARLEY_STT_PRELOAD": "start",
        "PARLEY_STT_CPU_THREADS": "1",
        "PARLEY_METRICS_ADDRESS": "127.0.0.1:0",
    }
    stt = [spawn(sys.executable, "-m", "services.stt", env=env, timeout=120) for _ in range(2)]
    config = RoomsConfig(
        stt_address=",".join(s.address for s in stt),
        # Everyone speaks and hears English: captions only, no translation or synthesis.
        translate_address=stt[0].address,
        tts_address=stt[0].address,
    )
    async with running([rooms_service(config)], LOOPBACK) as server:
        async with grpc.aio.insecure_channel(server.local_address) as channel:
            rooms = rooms_pb2_grpc.RoomServiceStub(channel)
            await rooms.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="lb", open=True))
            pat = Participant(rooms, join("lb", "Pat", "en", "en"))
            await pat.wait_for(lambda e: pat.of("joined"), 10)
            speakers = [Participant(rooms, join("lb", f"S{i}", "en", "en")) for i in range(4)]
            for s in speakers:
                await s.wait_for(lambda e, s=s: s.of("joined"), 10)

            # The first speaker opens the channel (both servers connect), then three more.
            speakers[0].send_audio(utterance(LINES[0]))
            await pat.wait_for(lambda e: pat.finals(), 60)
            for s, line in zip(speakers[1:], LINES[1:], strict=True):
                s.send_audio(utterance(line))
            await pat.wait_for(lambda e: len(pat.finals()) >= 4, 60)
            by_speaker = {c.speaker_name: c.text for c in pat.finals()}
            for i, line in enumerate(LINES):
                assert wer(line, by_speaker[f"S{i}"]) <= 0.35, by_speaker
            # Each speaker holds one recognition stream: both servers have some, and both are
            # watched through grpc.health.v1 (client-side health checking).
            streams = [open_calls(s, RECOGNIZE) for s in stt]
            assert sum(streams) == 4 and min(streams) >= 1, streams
            assert all(open_calls(s, WATCH) >= 1 for s in stt)

            # One STT process dies: every speaker is still recognised, by the other. Each says
            # another's line: a stream that hears the same short text twice, not quite clearly,
            # drops the second as a likely hallucination (services/stt/hallucination.py).
            stt[0].process.kill()
            stt[0].process.wait(timeout=10)
            others = LINES[1:] + LINES[:1]
            for s, line in zip(speakers, others, strict=True):
                s.send_audio(utterance(line))
            await pat.wait_for(lambda e: len(pat.finals()) >= 8, 60)
            again = {c.speaker_name: c.text for c in pat.finals()[4:]}
            assert sorted(again) == ["S0", "S1", "S2", "S3"]
            for i, line in enumerate(others):
                assert wer(line, again[f"S{i}"]) <= 0.35, again
            assert open_calls(stt[1], RECOGNIZE) == 4
            for p in (pat, *speakers):
                p.leave()
                await p.close()
