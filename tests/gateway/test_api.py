"""The gateway's HTTP and WebSocket contract, against a real ``parley serve``: real speech in,
real captions and translated speech out."""

from __future__ import annotations

import asyncio
import json
import ssl
import sys

import httpx
import numpy as np
import pytest
import websockets

from parley.cli import main as parley
from parley.settings import resolve
from tests.gateway.conftest import ALLOWED_ORIGIN, KEY, Peer
from tests.speech import pcm16, silence, speak, transcribe, wer

HELLO = "Good morning, how are you today?"


def base(gateway) -> str:
    return f"http://{gateway.address}"


async def test_status_and_the_page(gateway):
    async with httpx.AsyncClient(base_url=base(gateway)) as http:
        status = (await http.get("/")).json()
        assert status["room_service_status"] == "SERVING"
        assert "running" in status["message"]
        browser = await http.get("/", headers={"accept": "text/html"})
        assert browser.status_code == 307 and browser.headers["location"] == "/app/"
        page = await http.get("/app/")
        assert page.status_code == 200 and "<title>Parley</title>" in page.text
        for asset in ("app.js", "capture.js", "transcript.js", "style.css"):
            assert (await http.get(f"/app/{asset}")).status_code == 200


async def test_the_languages_come_from_the_services(gateway):
    async with httpx.AsyncClient(base_url=base(gateway)) as http:
        reply = await http.get("/languages")
    assert reply.status_code == 200
    found = {item["language"]: item for item in reply.json()["languages"]}
    # The default model (Whisper base) hears German and voices speak it; no route reaches it.
    assert found["de"]["heard"] and found["de"]["spoken"] and not found["de"]["translated_from"]
    # Spanish is heard, spoken by Pico and more, and reached from English and French.
    es = found["es"]
    assert es["heard"] and es["spoken"] and {"en", "fr"} <= set(es["translated_from"])
    assert "es" not in es["translated_from"]


async def test_two_people_through_the_gateway(gateway, rooms_server):
    async with httpx.AsyncClient(base_url=base(gateway)) as http:
        room = (await http.get("/create-room")).json()["room_id"]
        assert (await http.get(f"/rooms/{room}/participants")).json()["participants"] == 0
        luis = await Peer.join(base(gateway), room, target_lang="es", name="Luis")
        (joined,) = await luis.wait_for(lambda: luis.of("joined"))
        assert joined["room_id"] == room and joined["participant_id"]
        ana = await Peer.join(base(gateway), room, target_lang="en", source_lang="en", name="Ana")
        await luis.wait_for(lambda: any(m["count"] == 2 for m in luis.of("participants_update")))
        counted = (await http.get(f"/rooms/{room}/participants")).json()
        assert counted["participants"] == 2
        assert {p["name"] for p in counted["people"]} == {"Luis", "Ana"}

        speech = np.concatenate([silence(0.3), speak(HELLO, "en"), silence(1.5)])
        data = pcm16(speech)
        for i in range(0, len(data), 3200):
            await ana.ws.send(data[i : i + 3200])
        await ana.ws.send("not json")
        await ana.ws.send(b"RIFF\x24\x00\x00\x00WAVEfmt ")

        # Luis hears Ana in Spanish: a final caption, then the utterance's audio in one message.
        await luis.wait_for(lambda: luis.binary())
        final = [c for c in luis.of("caption") if c["is_final"]][-1]
        assert final["speaker_name"] == "Ana" and not final["self"]
        assert final["original_language"] == "en" and final["language"] == "es"
        assert wer(HELLO, final["original_text"]) <= 0.2, final
        assert (
            "buen" in final["text"].lower()
            and final["route"] == "en>pt (bergamot) > pt>es (apertium)"
        )
        (audio,) = luis.of("audio")
        (clip,) = luis.binary()
        assert audio["utterance_id"] == final["utterance_id"] and audio["language"] == "es"
        assert audio["sample_rate"] == 16_000 and audio["bytes"] == len(clip)
        assert 1.0 < len(clip) / 32_000 < 6.0, len(clip)
        heard = await transcribe(rooms_server.address, clip, "es", api_key=KEY)
        assert "buen" in heard.lower(), heard

        # Ana gets her own caption back, never audio; her junk text got a notice.
        own = await ana.wait_for(lambda: [c for c in ana.of("caption") if c["is_final"]])
        assert own[-1]["self"] and own[-1]["text"] == own[-1]["original_text"]
        notices = await ana.wait_for(lambda: len(ana.of("notice")) == 2 and ana.of("notice"))
        assert [n["code"] for n in notices] == ["INVALID_INPUT"] * 2
        assert "binary" in notices[0]["message"] and "WAV file" in notices[1]["message"]
        assert not ana.binary()

        # Settings changes reach the room; leaving updates everyone's count.
        await ana.ws.send('{"type": "update", "muted": true}')
        await luis.wait_for(
            lambda: any(
                p["muted"] for m in luis.of("participants_update") for p in m["participants"]
            )
        )
        await ana.ws.send('{"type": "update", "muted": "yes"}')
        await ana.wait_for(lambda: len(ana.of("notice")) == 3)
        await ana.close()
        await luis.wait_for(lambda: luis.of("participants_update")[-1]["count"] == 1)
        assert (await http.get(f"/rooms/{room}/participants")).json()["participants"] == 1
        await luis.ws.send('{"type": "leave"}')
        assert await luis.closed() == 1000
        assert luis.close_reason == "left the room"


async def test_opus_in_and_out_as_browsers_record_and_play_it(gateway, rooms_server):
    """Ana sends the WebM Opus a MediaRecorder makes, in pieces of any size; Luis asks for Ogg
    Opus and gets one Ogg file per utterance, which decodes to the Spanish translation."""
    from tests.encoded import encode, ogg_opus_speech

    async with httpx.AsyncClient(base_url=base(gateway)) as http:
        room = (await http.get("/create-room")).json()["room_id"]
    luis = await Peer.join(base(gateway), room, target_lang="es", name="Luis", audio_out="ogg_opus")
    ana = await Peer.join(
        base(gateway), room, target_lang="en", source_lang="en", name="Ana", audio_in="webm_opus"
    )
    await luis.wait_for(lambda: any(m["count"] == 2 for m in luis.of("participants_update")))
    webm = encode(np.concatenate([silence(0.3), speak(HELLO, "en"), silence(1.5)]), "webm_opus")
    for i in range(0, len(webm), 1000):  # MediaRecorder's pieces cut across WebM elements
        await ana.ws.send(webm[i : i + 1000])
    await luis.wait_for(lambda: luis.binary())
    final = [c for c in luis.of("caption") if c["is_final"]][-1]
    assert wer(HELLO, final["original_text"]) <= 0.2, final
    (audio,) = luis.of("audio")
    (clip,) = luis.binary()
    assert audio["encoding"] == "ogg_opus" and audio["sample_rate"] == 48_000
    assert clip.startswith(b"OggS") and audio["bytes"] == len(clip)
    assert len(clip) < 0.15 * audio["duration_ms"] / 1000 * 32_000  # against 16 kHz PCM
    heard = await transcribe(rooms_server.address, pcm16(ogg_opus_speech(clip)), "es", api_key=KEY)
    assert "buen" in heard.lower(), heard
    assert not ana.of("notice"), ana.of("notice")  # the WebM was taken as it is
    for peer in (ana, luis):
        await peer.close()


async def test_unknown_room_and_bad_joins_are_refused_clearly(gateway):
    async with httpx.AsyncClient(base_url=base(gateway)) as http:
        missing = await http.get("/rooms/no-such-room/participants")
        assert missing.status_code == 404
        assert missing.json() == {"detail": "no room 'no-such-room'", "code": "NOT_FOUND"}
        room = (await http.get("/create-room")).json()["room_id"]
    cases = [
        ("no-such-room", {"target_lang": "es"}, 4404, "NOT_FOUND"),
        (room, {}, 4400, "target_lang is required"),
        (room, {"target_lang": "Spanish"}, 4400, "listen_language"),
        (room, {"target_lang": "es", "interim": "maybe"}, 4400, "interim"),
        (room, {"target_lang": "es", "audio_in": "mp3"}, 4400, "audio_in='mp3': use pcm"),
        (room, {"target_lang": "es", "audio_out": "wav"}, 4400, "audio_out='wav': use pcm"),
    ]
    for room_id, query, code, words in cases:
        peer = await Peer.join(base(gateway), room_id, **query)
        assert await peer.closed() == code, (query, peer.close_code, peer.close_reason)
        (error,) = peer.of("error")
        assert words in error["message"] or words == error["code"], error
        assert peer.close_reason and peer.close_reason in error["message"]


async def test_cors_and_websocket_origins(gateway):
    async with httpx.AsyncClient(base_url=base(gateway)) as http:
        allowed = await http.get("/create-room", headers={"origin": ALLOWED_ORIGIN})
        assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        other = await http.get("/create-room", headers={"origin": "http://elsewhere.example"})
        assert "access-control-allow-origin" not in other.headers
        preflight = await http.options(
            "/create-room",
            headers={"origin": ALLOWED_ORIGIN, "access-control-request-method": "GET"},
        )
        assert preflight.status_code == 200
        room = allowed.json()["room_id"]
    url = f"ws://{gateway.address}/ws/{room}?target_lang=en"
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(url, origin="http://elsewhere.example")
    assert refused.value.response.status_code == 403
    for origin in (ALLOWED_ORIGIN, f"http://{gateway.address}"):
        async with websockets.connect(url, origin=origin) as ws:
            assert '"joined"' in await ws.recv()


def spawn_gateway(spawn, rooms_address: str, *flags: str, env=None):
    """Another ``parley gateway`` on a free port, in front of ``rooms_address``."""
    gateway = [sys.executable, "-m", "parley.cli", "gateway", "--port=0"]
    return spawn(*gateway, f"--rooms-address={rooms_address}", *flags, env=env)


async def test_a_missing_room_service_is_reported(spawn):
    # Nothing listens on port 1: every call to the RoomService fails as UNAVAILABLE.
    alone = spawn_gateway(spawn, "127.0.0.1:1")
    (warned,) = [r for r in alone.log if r["event"].startswith("the room service does not answer")]
    assert warned["address"] == "127.0.0.1:1" and warned["status"] == "UNAVAILABLE"
    (started,) = [r for r in alone.log if r["event"] == "server started"]
    assert started["open"] == f"http://{started['address']}/"
    async with httpx.AsyncClient(base_url=base(alone)) as http:
        assert (await http.get("/")).json()["room_service_status"] == "UNAVAILABLE"
        created = await http.get("/create-room")
        assert created.status_code == 503 and created.json()["code"] == "UNAVAILABLE"
        languages = await http.get("/languages")
        assert languages.status_code == 503 and languages.json()["code"] == "UNAVAILABLE"
    peer = await Peer.join(base(alone), "any", target_lang="es")
    assert await peer.closed() == 4503
    assert peer.of("error")[0]["code"] == "UNAVAILABLE"


async def test_a_gateway_without_the_key_says_so(spawn, rooms_server):
    keyless = spawn_gateway(spawn, rooms_server.address)
    async with httpx.AsyncClient(base_url=base(keyless)) as http:
        created = await http.get("/create-room")
    # The browser is not at fault: the gateway's own credentials are (502).
    assert created.status_code == 502 and created.json()["code"] == "UNAUTHENTICATED"
    assert "missing API key" in created.json()["detail"]


async def test_https_and_wss_with_a_certificate(spawn, rooms_server, certificates):
    secure = spawn_gateway(
        spawn,
        rooms_server.address,
        f"--tls-cert-file={certificates / 'server.pem'}",
        f"--tls-key-file={certificates / 'server.key'}",
        env={"PARLEY_API_KEY": KEY},
    )
    ca = ssl.create_default_context(cafile=str(certificates / "ca.pem"))
    async with httpx.AsyncClient(base_url=f"https://{secure.address}", verify=ca) as http:
        assert (await http.get("/")).json()["room_service_status"] == "SERVING"
        room = (await http.get("/create-room")).json()["room_id"]
    url = f"wss://{secure.address}/ws/{room}?target_lang=es"
    async with websockets.connect(url, ssl=ca) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert first["type"] == "joined", first
    async with httpx.AsyncClient() as plain:
        with pytest.raises(httpx.TransportError):  # plain HTTP is not served
            await plain.get(f"http://{secure.address}/", timeout=5)


def test_the_gateway_command_lists_its_settings(capsys):
    with pytest.raises(SystemExit) as done:
        parley(["gateway", "--help"])
    assert done.value.code == 0
    shown = capsys.readouterr().out
    assert "usage: parley gateway" in shown
    for flag in ("--rooms-address", "--cors-origins", "PARLEY_GATEWAY_PORT"):
        assert flag in shown
    with pytest.raises(SystemExit) as wrong:
        parley(["gateway", "--no-such-flag"])
    assert wrong.value.code == 2
    with pytest.raises(SystemExit) as wrong:
        parley(["demo", "--no-such-flag"])
    assert wrong.value.code == 2


def test_cors_origins_are_read_from_the_environment():
    from clients.gateway.config import GatewayConfig

    config = resolve(
        GatewayConfig,
        environ={"PARLEY_GATEWAY_CORS_ORIGINS": " http://a.example/, https://b.example:8443 ,"},
    )
    assert config.allowed_origins() == ("http://a.example", "https://b.example:8443")
    assert GatewayConfig().allowed_origins() == ()
