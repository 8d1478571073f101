"""Delivery of one utterance to every listener: once per language, never once per listener.

A final transcript is translated in one batch call into every listen language present (other
than the spoken one), then synthesised once per (language, output format) wanted, and each
audio chunk is queued to every listener of that group. A failure in one language reaches only
that language's listeners, as captions plus a notice.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass

import grpc
from google.protobuf.duration_pb2 import Duration

from parley import logs, tracing
from parley.audio import FLOAT32
from parley.logs import get_logger
from parley.metrics import STAGE_SECONDS
from parley.rpc import audio_format_to_proto, duration
from parley.v1 import rooms_pb2, translate_pb2, tts_pb2
from services.rooms.backends import Backends
from services.rooms.outbox import SerializedChunk
from services.rooms.room import Member, Room

log = get_logger(__name__)

SPEECH_PER_CHAR = 0.07
"""Seconds a character of translated speech takes at normal speed, until a room has heard its
voice (measured: 0.05-0.08 for Pico and espeak-ng voices in en, es, fr, de and it)."""


@dataclass(frozen=True)
class Utterance:
    """A final transcript ready for delivery."""

    utterance_id: str
    speaker: Member
    text: str
    language: str
    start_offset: Duration
    end_offset: Duration
    endpointing_s: float
    recognition_s: float
    closes_run: bool = False  # the last piece of an utterance heard in pieces as it went on

    def timings(self, translation_s: float, synthesis_s: float = 0.0) -> rooms_pb2.UtteranceTimings:
        """The server-side stage timings, up to translation or to the first audio chunk."""
        return rooms_pb2.UtteranceTimings(
            endpointing=duration(self.endpointing_s),
            recognition=duration(self.recognition_s),
            translation=duration(translation_s),
            synthesis_first_chunk=duration(synthesis_s),
        )


def notice(code: int, message: str, utterance_id: str = "", language: str = "", severity: int = 0):
    """A notice event; unless given, the severity is an error for failed recognition and a
    warning otherwise."""
    severity = severity or (
        rooms_pb2.NOTICE_SEVERITY_ERROR
        if code in (rooms_pb2.NOTICE_CODE_RECOGNITION_FAILED,)
        else rooms_pb2.NOTICE_SEVERITY_WARNING
    )
    return rooms_pb2.JoinResponse(
        notice=rooms_pb2.Notice(
            code=code,
            severity=severity,
            message=message,
            utterance_id=utterance_id,
            language=language,
        )
    )


class FanOut:
    """Delivers the utterances of one room."""

    def __init__(self, room: Room, backends: Backends, timeout_s: float) -> None:
        self._room = room
        self._backends = backends
        self._timeout = timeout_s

    async def check_reach(self, member: Member) -> None:
        """Tells at once who will not understand whom: ``member`` of each language spoken here
        that no route translates into theirs, and of no voice for theirs; and each listener of
        a language no route reaches from ``member``'s."""
        pairs = [
            (other.speak_language, member.listen_language, member, other)
            for other in self._room.others(member)
            if other.speak_language
        ]
        if member.speak_language:
            pairs += [
                (member.speak_language, other.listen_language, other, member)
                for other in self._room.others(member)
            ]
        if member.wants_audio and not await self._answers_yes(
            self._backends.speaks(member.listen_language, self._timeout)
        ):
            self._room.send(
                member,
                notice(
                    rooms_pb2.NOTICE_CODE_SYNTHESIS_FAILED,
                    f"no voice here speaks {member.listen_language}: you will get captions "
                    "only. To add one, give the speech service a voice for it (see the "
                    "README's Text-to-speech section)",
                    language=member.listen_language,
                ),
            )
        checked: dict[tuple[str, str], bool] = {}
        for source, target, listener, speaker in pairs:
            if source == target:
                continue
            if (source, target) not in checked:
                checked[(source, target)] = await self._answers_yes(
                    self._backends.translates(source, target, self._timeout)
                )
            if not checked[(source, target)]:
                self._room.send(
                    listener,
                    notice(
                        rooms_pb2.NOTICE_CODE_TRANSLATION_FAILED,
                        f"nothing here translates {source} into {target}: captions of "
                        f"{speaker.display_name} will carry the original {source} text, with no "
                        f"speech. To add the pair, give the translation service an engine for "
                        f"it (an LLM server, PARLEY_TRANSLATE_LLM_URL, translates most pairs; "
                        f"see the README's Translation section)",
                        language=target,
                    ),
                )

    async def _answers_yes(self, question) -> bool:
        """A question to a backend at join; True when it cannot be asked (its failures are
        told as they happen)."""
        try:
            return await question
        except grpc.aio.AioRpcError:
            return True

    def partial(self, speaker: Member, utterance_id: str, text: str, language: str, stability):
        """Sends a partial caption (untranslated) to those who asked for them."""
        for member in self._room.members.values():
            if not (member.interim_captions and member.wants_captions):
                continue
            same = member is speaker or member.listen_language == language
            caption = rooms_pb2.Caption(
                utterance_id=utterance_id,
                speaker_id=speaker.participant_id,
                speaker_name=speaker.display_name,
                is_final=False,
                stability=stability,
                original_text=text,
                original_language=language,
                text=text if same else "",
                language=language if member is speaker else member.listen_language,
            )
            self._room.send(member, rooms_pb2.JoinResponse(caption=caption))

    async def deliver(self, utterance: Utterance) -> None:
        """Captions and translated speech of one final transcript to every member, in one
        trace span when tracing is on."""
        with tracing.span(
            "utterance",
            room=self._room.room_id,
            utterance=utterance.utterance_id,
            language=utterance.language,
        ):
            await self._deliver(utterance)

    async def _deliver(self, utterance: Utterance) -> None:
        speaker = utterance.speaker
        listeners = [m for m in self._room.others(speaker)]
        by_language: dict[str, list[Member]] = defaultdict(list)
        for member in listeners:
            by_language[member.listen_language].append(member)
        if speaker.wants_captions:  # the speaker's own caption, as confirmation
            self._room.send(speaker, self._caption(utterance, speaker, utterance.text, "", 0.0))
        targets = sorted(lang for lang in by_language if lang != utterance.language)
        texts, routes, translation_s = await self._translate(utterance, targets)
        STAGE_SECONDS.labels("endpointing").observe(utterance.endpointing_s)
        STAGE_SECONDS.labels("recognition").observe(utterance.recognition_s)
        if targets:
            STAGE_SECONDS.labels("translation").observe(translation_s)
        logs.transcript(
            room=self._room.room_id,
            utterance=utterance.utterance_id,
            speaker=speaker.participant_id,
            language=utterance.language,
            text=utterance.text,
            translations=texts,
        )
        for language, members in by_language.items():
            # Untranslated, the caption carries the original, as the notice below says.
            text = texts.get(language, utterance.text)
            route = routes.get(language, "")
            spent = 0.0 if language == utterance.language else translation_s
            for member in members:
                if member.wants_captions:
                    self._room.send(member, self._caption(utterance, member, text, route, spent))
                if language not in texts and language != utterance.language:
                    self._room.send(
                        member,
                        notice(
                            rooms_pb2.NOTICE_CODE_TRANSLATION_FAILED,
                            f"no translation into {language}: the caption carries the original",
                            utterance.utterance_id,
                            language,
                        ),
                    )
        texts[utterance.language] = utterance.text
        groups: dict[tuple[str, object], list[Member]] = defaultdict(list)
        for language, members in by_language.items():
            if language not in texts:
                continue
            for member in members:
                if member.wants_audio and (
                    language != utterance.language or member.same_language_audio
                ):
                    groups[(language, member.output_format)].append(member)
        await asyncio.gather(
            *(
                self._speak(utterance, language, texts[language], members, translation_s)
                for (language, _), members in groups.items()
            )
        )

    def _caption(self, u: Utterance, member: Member, text: str, route: str, translation_s: float):
        caption = rooms_pb2.Caption(
            utterance_id=u.utterance_id,
            speaker_id=u.speaker.participant_id,
            speaker_name=u.speaker.display_name,
            is_final=True,
            stability=1.0,
            original_text=u.text,
            original_language=u.language,
            text=text,
            language=u.language if member is u.speaker else member.listen_language,
            route=route,
            start_offset=u.start_offset,
            end_offset=u.end_offset,
            timings=u.timings(translation_s),
        )
        return rooms_pb2.JoinResponse(caption=caption)

    async def _translate(
        self, utterance: Utterance, targets: list[str]
    ) -> tuple[dict[str, str], dict[str, str], float]:
        """Translations and routes per target; a failed target is simply absent."""
        if not targets:
            return {}, {}, 0.0
        started = time.perf_counter()
        try:
            response = await self._backends.translate(
                translate_pb2.TranslateRequest(
                    texts=[utterance.text],
                    source_language=utterance.language,
                    target_languages=targets,
                    do_not_translate=self._room.kept_terms(),
                ),
                self._timeout,
            )
            found = response.translations
        except grpc.aio.AioRpcError as exc:
            if len(targets) == 1:
                log.warning("translation failed", target=targets[0], error=exc.details())
                return {}, {}, time.perf_counter() - started
            # One failing language fails the batch: keep the others, one target at a time.
            texts, routes = {}, {}
            for target in targets:
                one_text, one_route, _ = await self._translate(utterance, [target])
                texts.update(one_text)
                routes.update(one_route)
            return texts, routes, time.perf_counter() - started
        texts = {t.target_language: t.text for t in found}
        routes = {t.target_language: t.route.summary for t in found}
        return texts, routes, time.perf_counter() - started

    async def _speak(
        self, u: Utterance, language: str, text: str, members: list[Member], translation_s: float
    ) -> None:
        """One synthesis, streamed to every member of the group as it is produced."""
        fmt = members[0].output_format
        request = tts_pb2.StreamingSynthesizeRequest(
            text=text,
            voice=tts_pb2.VoiceSelection(language=language, speaker_key=u.speaker.participant_id),
            audio_format=audio_format_to_proto(fmt),
            options=tts_pb2.SynthesisOptions(
                speaking_rate=(rate := self._rate(language, u, text)), trim_silence=True
            ),
        )
        started = time.perf_counter()
        sequence = 0
        heard_s = 0.0
        try:
            async for response in self._backends.synthesize(request, self._timeout):
                if sequence == 0:
                    first_chunk_s = time.perf_counter() - started
                    STAGE_SECONDS.labels("synthesis_first_chunk").observe(first_chunk_s)
                    begin = rooms_pb2.UtteranceAudioBegin(
                        utterance_id=u.utterance_id,
                        speaker_id=u.speaker.participant_id,
                        language=language,
                        audio_format=response.audio_format,
                        voice=response.voice.name,
                        text=text,
                        timings=u.timings(translation_s, first_chunk_s),
                    )
                    self._to_all(members, rooms_pb2.JoinResponse(audio_begin=begin))
                chunk = rooms_pb2.UtteranceAudioChunk(
                    utterance_id=u.utterance_id, data=response.audio, sequence=sequence
                )
                # Serialized once for the whole group, not once per listener.
                shared = SerializedChunk(
                    rooms_pb2.JoinResponse(audio_chunk=chunk).SerializeToString()
                )
                for member in members:
                    if member.participant_id in self._room.members:
                        self._room.send(member, shared)
                sequence += 1
                heard_s += (
                    response.duration.ToNanoseconds() / 1e9
                    if response.HasField("duration")  # compressed audio says how long it is
                    else len(response.audio)
                    / (4 if fmt.encoding == FLOAT32 else 2)
                    / fmt.sample_rate
                )
        except grpc.aio.AioRpcError as exc:
            log.warning("synthesis failed", language=language, error=exc.details())
            self._to_all(
                members,
                notice(
                    rooms_pb2.NOTICE_CODE_SYNTHESIS_FAILED,
                    f"speech in {language} could not be synthesised ({exc.code().name}); "
                    "captions still arrive",
                    u.utterance_id,
                    language,
                ),
            )
        if sequence:
            end = rooms_pb2.UtteranceAudioEnd(
                utterance_id=u.utterance_id, duration=duration(heard_s)
            )
            self._to_all(members, rooms_pb2.JoinResponse(audio_end=end))
            self._queued(language, started + first_chunk_s, heard_s)
            self._learn(language, text, heard_s, rate)

    def _rate(self, language: str, u: Utterance, text: str) -> float:
        """How fast to speak ``text`` in ``language``, as interpreters keep pace: at normal
        speed while its listeners will have at most ``catch_up_after_s`` still to hear when the
        speaker's next words come, faster when they would have more (up to ``catch_up_rate``).

        The text's expected length (the seconds a character of this language's speech took in
        this room so far) is weighed against the time the speaker took to say it and what is
        queued. Without the speaker's timing, only what is queued counts: over the bound, at
        least half way to ``catch_up_rate``, all the way at twice the bound. The last piece of
        an utterance heard in pieces (the speaker ran on, then stopped) has no more speech to
        keep pace with: it is spoken fast enough to leave at most the bound to hear.
        """
        room = self._room
        bound = room.catch_up_after_s
        if not bound:
            return 1.0
        backlog = max(0.0, room.audio_queued.get(language, 0.0) - time.perf_counter())
        said = (u.end_offset.ToNanoseconds() - u.start_offset.ToNanoseconds()) / 1e9
        if said > 0 or u.closes_run:  # the recogniser said where the words were
            expected = len(text) * room.speech_per_char.get(language, SPEECH_PER_CHAR)
            # After the last piece of a run-on utterance no more words come to keep pace with.
            allowed = bound - backlog + (0.0 if u.closes_run else said)
            rate = expected / allowed if allowed > 0 else room.catch_up_rate
            log.debug("speaking rate", language=language, said_s=round(said, 2),
                      backlog_s=round(backlog, 2), expected_s=round(expected, 2),
                      wanted=round(rate, 2), cap=room.catch_up_rate,
                      last=u.closes_run)  # fmt: skip
        elif backlog > bound:
            behind = min(1.0, (backlog - bound) / bound)
            rate = 1.0 + (room.catch_up_rate - 1.0) * max(behind, 0.5)
        else:
            rate = 1.0
        return min(max(rate, 1.0), room.catch_up_rate)

    def _queued(self, language: str, first_chunk_at: float, seconds: float) -> None:
        """Counts ``seconds`` of speech that began to reach ``language``'s listeners at
        ``first_chunk_at``: they hear it after what was queued before it."""
        room = self._room
        start = max(first_chunk_at, room.audio_queued.get(language, 0.0))
        room.audio_queued[language] = start + seconds

    def _learn(self, language: str, text: str, seconds: float, rate: float) -> None:
        """Remembers how long a character of ``language`` takes to say at normal speed."""
        if text:
            known = self._room.speech_per_char.get(language, SPEECH_PER_CHAR)
            self._room.speech_per_char[language] = 0.7 * known + 0.3 * seconds * rate / len(text)

    def _to_all(self, members: list[Member], event: rooms_pb2.JoinResponse) -> None:
        for member in members:
            if member.participant_id in self._room.members:
                self._room.send(member, event)
