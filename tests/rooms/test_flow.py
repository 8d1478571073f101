"""Real rooms end to end: real speech in, real captions and translated speech out."""

from __future__ import annotations

import grpc
import numpy as np

from parley.v1 import rooms_pb2, rooms_pb2_grpc
from services.rooms.decoding import DECODED
from tests.rooms.conftest import Participant, join, room_server
from tests.speech import silence, speak, transcribe, wer

HELLO = "Good morning, how are you today?"
HOLA = "Buenos días, me gustaría reservar una mesa para cuatro personas."


def utterance(text: str, language: str) -> np.ndarray:
    return np.concatenate([silence(0.3), speak(text, language), silence(1.2)])


def audio_done(p: Participant, count: int = 1):
    return lambda _: len(p.of("audio_end")) >= count and p.of("audio_end")


async def test_english_speaker_heard_in_spanish_french_and_english(engines):
    async with room_server(engines) as (stub, _):
        await stub.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="cafe", open=True))
        ana = Participant(stub, join("cafe", "Ana", "en", "en"))
        await ana.wait_for(lambda e: ana.of("joined"))
        luis = Participant(stub, join("cafe", "Luis", "es", "es"))
        marie = Participant(stub, join("cafe", "Marie", "fr", "fr"))
        john = Participant(stub, join("cafe", "John", "en", "en"))
        for p in (luis, marie, john):
            await p.wait_for(lambda e, p=p: p.of("joined"))
        ana.send_audio(utterance(HELLO, "en"))

        (es_end,) = await luis.wait_for(audio_done(luis))
        (fr_end,) = await marie.wait_for(audio_done(marie))
        (es_caption,) = luis.finals()
        (fr_caption,) = marie.finals()
        (en_caption,) = await john.wait_for(lambda e: john.finals())
        (own,) = await ana.wait_for(lambda e: ana.finals())

        assert wer(HELLO, es_caption.original_text) <= 0.2
        assert es_caption.original_language == "en" and es_caption.language == "es"
        assert "buen" in es_caption.text.lower() and "hoy" in es_caption.text.lower()
        assert es_caption.route == "en>pt (bergamot) > pt>es (apertium)"
        assert "bonjour" in fr_caption.text.lower() and "en>es" in fr_caption.route
        assert en_caption.text == en_caption.original_text and not en_caption.route
        assert own.text == own.original_text and own.speaker_id == ana.id
        assert es_caption.speaker_name == "Ana"

        # Translated speech is real: transcribed back, it says the translation.
        heard_es = await transcribe(engines, luis.audio(es_end.utterance_id), "es")
        assert "buen" in heard_es.lower() and wer(es_caption.text, heard_es) <= 0.4, heard_es
        heard_fr = await transcribe(engines, marie.audio(fr_end.utterance_id), "fr")
        assert "bonjour" in heard_fr.lower(), heard_fr
        (begin,) = luis.of("audio_begin")
        assert begin.language == "es" and begin.audio_format.sample_rate_hz == 16_000
        assert begin.timings.recognition.ToNanoseconds() > 0

        # Same language: caption only, no audio; the speaker gets nothing of their own audio
        # (the utterance's delivery is over: every language's audio has ended).
        assert not john.of("audio_chunk") and not ana.of("audio_chunk")
        for p in (ana, luis, marie, john):
            p.leave()
            await p.close()


async def test_two_people_speaking_at_once(engines):
    async with room_server(engines) as (stub, _):
        await stub.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="duo", open=True))
        ana = Participant(stub, join("duo", "Ana", "en", "es"))
        luis = Participant(stub, join("duo", "Luis", "es", "en"))
        listener = Participant(stub, join("duo", "Pat", "en", "en"))
        for p in (ana, luis, listener):
            await p.wait_for(lambda e, p=p: p.of("joined"))
        ana.send_audio(utterance(HELLO, "en"))
        luis.send_audio(utterance(HOLA, "es"))
        captions = await listener.wait_for(
            lambda e: len(listener.finals()) >= 2 and listener.finals()
        )
        by_speaker = {c.speaker_name: c for c in captions}
        assert wer(HELLO, by_speaker["Ana"].text) <= 0.2
        assert by_speaker["Luis"].original_language == "es"
        assert "table" in by_speaker["Luis"].text.lower() or "mesa" in by_speaker["Luis"].text
        (to_ana,) = await ana.wait_for(
            lambda e: [c for c in ana.finals() if c.speaker_name == "Luis"]
        )
        assert wer(HOLA, to_ana.text) <= 0.25  # Ana listens in Spanish: Luis's own words
        (to_luis,) = await luis.wait_for(
            lambda e: [c for c in luis.finals() if c.speaker_name == "Ana"]
        )
        assert to_luis.language == "en" and wer(HELLO, to_luis.text) <= 0.2
        for p in (ana, luis, listener):
            await p.close()


async def test_listener_switches_language_mid_call(engines):
    async with room_server(engines) as (stub, _):
        await stub.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="switch", open=True))
        ana = Participant(stub, join("switch", "Ana", "en", "en"))
        bea = Participant(
            stub, join("switch", "Bea", "es", "es", delivery=rooms_pb2.DELIVERY_MODE_CAPTIONS_ONLY)
        )
        for p in (ana, bea):
            await p.wait_for(lambda e, p=p: p.of("joined"))
        ana.send_audio(utterance(HELLO, "en"))
        (first,) = await bea.wait_for(lambda e: bea.finals())
        bea.send(update_settings=rooms_pb2.UpdateSettings(listen_language="fr"))
        await ana.wait_for(
            lambda e: [
                u for u in ana.of("participant_updated") if u.participant.listen_language == "fr"
            ]
        )
        ana.send_audio(utterance("Thank you very much.", "en"))
        second = await bea.wait_for(lambda e: len(bea.finals()) >= 2 and bea.finals()[1])
        assert first.language == "es" and second.language == "fr"
        assert "merci" in second.text.lower(), second.text
        assert not bea.of("audio_chunk")  # captions only
        for p in (ana, bea):
            await p.close()


async def test_tts_failure_reaches_only_that_language(engines):
    async with room_server(engines, counting=True) as (stub, backends):
        backends.fail_synthesis = {"fr"}
        await stub.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="faulty", open=True))
        ana = Participant(stub, join("faulty", "Ana", "en", "en"))
        luis = Participant(stub, join("faulty", "Luis", "es", "es"))
        marie = Participant(stub, join("faulty", "Marie", "fr", "fr"))
        for p in (ana, luis, marie):
            await p.wait_for(lambda e, p=p: p.of("joined"))
        ana.send_audio(utterance(HELLO, "en"))
        await luis.wait_for(audio_done(luis))
        notices = await marie.wait_for(lambda e: marie.of("notice"))
        assert (
            notices[0].code == rooms_pb2.NOTICE_CODE_SYNTHESIS_FAILED
            and notices[0].language == "fr"
        )
        (caption,) = marie.finals()
        assert "bonjour" in caption.text.lower()
        assert not marie.of("audio_chunk") and not luis.of("notice")
        for p in (ana, luis, marie):
            await p.close()


async def test_translation_failure_reaches_only_that_language(engines):
    async with room_server(engines, counting=True) as (stub, backends):
        backends.fail_translation = {"fr"}
        await stub.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="lost", open=True))
        ana = Participant(stub, join("lost", "Ana", "en", "en"))
        await ana.wait_for(lambda e: ana.of("joined"))
        luis = Participant(stub, join("lost", "Luis", "es", "es"))
        marie = Participant(stub, join("lost", "Marie", "fr", "fr"))
        for p in (luis, marie):
            await p.wait_for(lambda e, p=p: p.of("joined"))
        ana.send_audio(utterance(HELLO, "en"))
        (es_caption,) = await luis.wait_for(lambda e: luis.finals())
        assert "buen" in es_caption.text.lower()
        await luis.wait_for(audio_done(luis))
        (notice,) = await marie.wait_for(lambda e: marie.of("notice"))
        assert notice.code == rooms_pb2.NOTICE_CODE_TRANSLATION_FAILED and notice.language == "fr"
        (fr_caption,) = marie.finals()
        # The caption carries the original, as the notice says.
        assert fr_caption.text == fr_caption.original_text
        assert wer(HELLO, fr_caption.original_text) <= 0.2
        assert not marie.of("audio_chunk") and not luis.of("notice")
        for p in (ana, luis, marie):
            await p.close()


async def test_a_listener_that_never_reads_does_not_delay_the_others(engines):
    async with room_server(engines, outbox_audio_chunks=5) as (stub, _):
        await stub.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="slow", open=True))
        ana = Participant(stub, join("slow", "Ana", "en", "en"))
        await ana.wait_for(lambda e: ana.of("joined"))
        # A connection whose receive window stays at 64 KiB, so that unread audio backs up.
        slow = grpc.aio.insecure_channel(stub.address, options=[("grpc.http2.bdp_probe", 0)])
        sleeper = Participant(
            rooms_pb2_grpc.RoomServiceStub(slow), join("slow", "Sleepy", "es", "es"), read=False
        )
        luis = Participant(stub, join("slow", "Luis", "es", "es"))
        await ana.wait_for(lambda e: len(ana.of("participant_joined")) == 2)
        for text in (HELLO, "Thank you very much.", "See you tomorrow at noon."):
            ana.send_audio(utterance(text, "en"))
        ends = await luis.wait_for(audio_done(luis, 3))
        assert len(ends) == 3 and all(e.dropped_chunks == 0 for e in ends)
        # The sleeper wakes up: its captions are all there, its oldest audio was dropped.
        await sleeper.start_reading()
        await sleeper.wait_for(lambda e: len(sleeper.finals()) == 3)
        await sleeper.wait_for(audio_done(sleeper, 3))
        dropped = [n for n in sleeper.of("notice") if n.code == rooms_pb2.NOTICE_CODE_AUDIO_DROPPED]
        assert dropped and sum(n.dropped_chunks for n in dropped) > 0
        # Nothing else was lost: what it got plus what was dropped is what Luis got.
        lost = sum(end.dropped_chunks for end in sleeper.of("audio_end"))
        assert len(sleeper.of("audio_chunk")) + lost == len(luis.of("audio_chunk"))
        for p in (ana, sleeper, luis):
            await p.close()
        await slow.close()


async def test_fifty_listeners_cost_one_recognition_two_translations_three_syntheses(engines):
    async with room_server(engines, counting=True, max_participants=60) as (stub, backends):
        await stub.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="crowd", open=True))
        speaker = Participant(stub, join("crowd", "Speaker", "en", "en"))
        await speaker.wait_for(lambda e: speaker.of("joined"))
        languages = ["en", "es", "fr"]
        # English listeners ask to hear the English speaker re-voiced, so every language is spoken.
        crowd = [
            Participant(stub, join("crowd", f"L{i}", "", lang, same_language_audio=lang == "en"))
            for i, lang in ((i, languages[i % 3]) for i in range(50))
        ]
        for p in crowd:
            await p.wait_for(lambda e, p=p: p.of("joined"))
        speaker.send_audio(utterance(HELLO, "en"))
        for p in crowd:
            await p.wait_for(lambda e, p=p: p.finals())
        for p in crowd:
            await p.wait_for(audio_done(p))
        assert backends.calls["recognize"] == 1
        assert backends.calls["translate"] == 1 and backends.translated_targets == [["es", "fr"]]
        assert sorted(backends.synthesized) == ["en", "es", "fr"]
        for p in crowd:
            assert len(p.finals()) == 1
        for p in [speaker, *crowd]:
            await p.close()


async def test_a_browser_speaker_sending_webm_opus_and_a_phone_sending_mulaw_are_heard(engines):
    """WebM Opus (what MediaRecorder makes) cut in arbitrary pieces, and 8 kHz G.711 mu-law, are
    decoded by the room and heard, translated; a browser speaker who changes the language they
    speak halfway through their one WebM stream goes on being heard (the room decodes the
    stream once, whatever recognition streams it opens); a speaker whose bytes are not what they
    declared gets one notice and the room goes on."""
    import random

    from parley.v1 import audio_pb2
    from tests.encoded import encode

    def send(person: Participant, data: bytes, seed: int) -> None:
        rng, at = random.Random(seed), 0
        while at < len(data):
            size = rng.randint(1, 700)
            person.send(audio=audio_pb2.AudioChunk(data=data[at : at + size]))
            at += size

    async with room_server(engines) as (stub, _):
        await stub.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="mixed", open=True))
        luis = Participant(stub, join("mixed", "Luis", "es", "es"))
        await luis.wait_for(lambda e: luis.of("joined"))

        webm = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_WEBM_OPUS)
        ana = Participant(stub, join("mixed", "Ana", "en", "en", input_format=webm))
        await ana.wait_for(lambda e: ana.of("joined"))
        first, gap = utterance(HELLO, "en"), silence(3.0)
        both = np.concatenate([first, gap, utterance(HOLA, "es")])
        data = encode(both, "webm_opus")
        half = int(len(data) * (first.size + gap.size // 2) / both.size)  # inside the gap
        send(ana, data[:half], 1)
        (heard,) = await luis.wait_for(lambda e: luis.finals())
        assert wer(HELLO, heard.original_text) <= 0.2 and "buen" in heard.text.lower()
        ana.send(update_settings=rooms_pb2.UpdateSettings(speak_language="es"))
        send(ana, data[half:], 2)
        captions = await luis.wait_for(lambda e: len(luis.finals()) == 2 and luis.finals())
        assert captions[1].original_language == "es"
        assert wer(HOLA, captions[1].original_text) <= 0.25, captions[1].original_text

        mulaw = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_MULAW, sample_rate_hz=8000)
        phone = Participant(stub, join("mixed", "Phone", "en", "en", input_format=mulaw))
        await phone.wait_for(lambda e: phone.of("joined"))
        send(phone, encode(utterance(HELLO, "en"), "mulaw"), 3)
        captions = await luis.wait_for(lambda e: len(luis.finals()) == 3 and luis.finals())
        assert wer(HELLO, captions[2].original_text) <= 0.2 and captions[2].speaker_name == "Phone"

        ogg = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_OGG_OPUS)
        liar = Participant(stub, join("mixed", "Liar", "en", "en", input_format=ogg))
        await liar.wait_for(lambda e: liar.of("joined"))
        liar.send_audio(utterance(HELLO, "en"))  # PCM, declared as Ogg Opus
        (told,) = await liar.wait_for(lambda e: liar.of("notice"))
        assert "cannot be decoded as ogg_opus" in told.message
        for p in (ana, phone, liar, luis):
            await p.close()


async def test_listeners_who_ask_for_opus_get_it_encoded_once_at_a_tenth_of_the_bytes(engines):
    """Two Opus listeners and one PCM listener in Spanish: the Opus pair receive the very same
    Ogg stream (encoded once for both), it decodes to the translated speech, and it takes at
    most 12% of the PCM listener's bytes."""
    from parley.audio import encode
    from parley.v1 import audio_pb2
    from tests.encoded import ogg_opus_speech

    ogg = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_OGG_OPUS, bitrate_bps=24_000)
    async with room_server(engines) as (stub, _):
        await stub.CreateRoom(rooms_pb2.CreateRoomRequest(room_id="opus", open=True))
        ana = Participant(stub, join("opus", "Ana", "en", "en"))
        await ana.wait_for(lambda e: ana.of("joined"))
        luis = Participant(stub, join("opus", "Luis", "es", "es", output_format=ogg))
        rosa = Participant(stub, join("opus", "Rosa", "es", "es", output_format=ogg))
        pablo = Participant(stub, join("opus", "Pablo", "es", "es"))
        for p in (luis, rosa, pablo):
            await p.wait_for(lambda e, p=p: p.of("joined"))
        ana.send_audio(utterance(HELLO, "en"))
        (end,) = await luis.wait_for(audio_done(luis))
        await rosa.wait_for(audio_done(rosa))
        await pablo.wait_for(audio_done(pablo))
        (begin,) = luis.of("audio_begin")
        assert begin.audio_format.encoding == audio_pb2.AUDIO_ENCODING_OGG_OPUS
        assert begin.audio_format.sample_rate_hz == 48_000
        opus = luis.audio(end.utterance_id)
        assert opus == rosa.audio(end.utterance_id), "one encoding for the group"
        assert len(opus) <= 0.12 * len(pablo.audio(end.utterance_id))
        samples = ogg_opus_speech(opus)
        heard = await transcribe(engines, encode(samples, DECODED), "es")
        assert "buen" in heard.lower(), heard
        assert abs(end.duration.ToNanoseconds() / 1e9 - samples.size / 16_000) < 0.25
        for p in (ana, luis, rosa, pablo):
            await p.close()
