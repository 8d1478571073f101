"""Monologues: people who do not pause, heard by a listener in another language.

Each monologue is 8 or more sentences by one voice, 120 ms apart (no pause long enough to end an
utterance), 25 s or more, streamed into a room in real time; one listener hears it translated.
Measured per monologue, for a server that commits each sentence while the speaker goes on
(``PARLEY_STT_COMMIT=sentence``) and one that waits for the end of the utterance (``utterance``):

- per sentence, the lag from its end in the speaker's audio to the first translated audio of
  it at the listener: the first audio of the segment that carries its last-but-one word, the
  script aligned word by word with the committed text (a misheard or missed word elsewhere
  does not move a sentence into a later segment);
- when the listener finishes hearing, after the speaker stopped (playing every chunk in order,
  from the moment it arrives);
- server CPU seconds per minute of speech;
- WER of the committed text joined against the script.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

import jiwer
import numpy as np

from bench.room import RATE, Server, percentile
from bench.sentences import SENTENCES
from parley_client import Connection
from tests.speech import plain, voiced_span_ms, wer
from tests.voices import Voice, say

GAP_S = 0.12
CHUNK_S = 0.1
HEAR_IN = {"en": "es", "es": "en"}
VOICES = (
    Voice("pico", "en-US", "en"),
    Voice("piper", "joe", "en"),
    Voice("pico", "es-ES", "es"),
    Voice("espeak", "es", "es", speed=1.1),
)


@dataclass
class Monologue:
    voice: Voice
    sentences: list[str]
    audio: np.ndarray
    ends_s: list[float]  # where each sentence's speech ends in the audio

    @property
    def language(self) -> str:
        return self.voice.language

    @property
    def script(self) -> str:
        return " ".join(self.sentences)


def monologues() -> list[Monologue]:
    """One monologue per voice: its language's sentences of 4 words or more, 120 ms apart."""
    made = []
    for voice in VOICES:
        texts = [t for t in SENTENCES[voice.language] if len(t.split()) >= 4]
        pieces, ends, at = [np.zeros(RATE // 2, np.float32)], [], 0.5
        for text in texts:
            clip = say(text, voice)
            start, end = voiced_span_ms(clip)
            clip = clip[int(start * RATE / 1000) : int(end * RATE / 1000)]
            pieces += [clip, np.zeros(int(GAP_S * RATE), np.float32)]
            at += clip.size / RATE
            ends.append(at)
            at += GAP_S
        pieces.append(np.zeros(2 * RATE, np.float32))
        made.append(Monologue(voice, texts, np.concatenate(pieces), ends))
    return made


@dataclass
class Heard:
    """What the listener got: each segment's text, first audio and audio length."""

    texts: dict[str, str] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    first_audio: dict[str, float] = field(default_factory=dict)
    chunks: list[tuple[float, float]] = field(default_factory=list)  # (arrival, seconds)
    audio_s: dict[str, float] = field(default_factory=dict)  # each segment's audio length
    speaker_here: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)


async def _listen(session, heard: Heard, rate: int) -> None:
    async for event in session.events():
        kind = event.WhichOneof("event")
        now = time.perf_counter()
        heard.changed.set()
        if kind == "participant_joined":
            heard.speaker_here.set()
        elif kind == "caption" and event.caption.is_final:
            uid = event.caption.utterance_id
            heard.texts[uid] = event.caption.original_text
            heard.order.append(uid)
        elif kind == "audio_chunk":
            uid = event.audio_chunk.utterance_id
            heard.first_audio.setdefault(uid, now)
            seconds = len(event.audio_chunk.data) / 2 / rate
            heard.chunks.append((now, seconds))
            heard.audio_s[uid] = heard.audio_s.get(uid, 0.0) + seconds


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", plain(text).lower())


def _words(text: str) -> int:
    return len(_tokens(text))


def carrying_segments(sentences: list[str], segments: list[str]) -> list[int | None]:
    """For each sentence of the script, the index of the segment that carries its last-but-one
    word (a last word committed with the next segment is no delay), or None if nothing does.

    The script and the segments' text joined are aligned word by word (jiwer's alignment), so
    a word misheard, missed or added does not shift the sentences after it. A sentence whose
    key word was missed is carried where its nearest earlier word is, else its next one.
    """
    ref, keys, starts = [], [], []
    for sentence in sentences:
        starts.append(len(ref))
        ref += _tokens(sentence)
        keys.append(max(starts[-1], len(ref) - 2))
    heard = [_tokens(text) for text in segments]
    hyp = [t for tokens in heard for t in tokens]
    hyp_owner = [i for i, tokens in enumerate(heard) for _ in tokens]  # heard word -> segment
    if not ref or not hyp:
        return [None] * len(sentences)
    aligned: list[int | None] = [None] * len(ref)  # script word -> heard word
    for chunk in jiwer.process_words(" ".join(ref), " ".join(hyp)).alignments[0]:
        if chunk.type in ("equal", "substitute"):
            for k in range(chunk.ref_end_idx - chunk.ref_start_idx):
                aligned[chunk.ref_start_idx + k] = chunk.hyp_start_idx + k
    found = []
    for start, key in zip(starts, keys, strict=True):
        nearest = [*range(key, start - 1, -1), *range(key + 1, len(ref))]  # earlier, then later
        word = next((aligned[i] for i in nearest if aligned[i] is not None), None)
        found.append(None if word is None else hyp_owner[word])
    return found


def measure(m: Monologue, heard: Heard, t0: float) -> dict:
    """Per-sentence lags, the end of hearing, and WER, from what the listener got."""
    texts = [heard.texts[uid] for uid in heard.order]
    lags = []
    for segment, end_s in zip(carrying_segments(m.sentences, texts), m.ends_s, strict=True):
        # The first audio of that segment, or of the next one that had audio.
        first = None
        if segment is not None:
            first = next(
                (heard.first_audio[u] for u in heard.order[segment:] if u in heard.first_audio),
                None,
            )
        lags.append((first - (t0 + end_s)) if first is not None else float("nan"))
    playing = 0.0
    for arrival, seconds in heard.chunks:
        playing = max(playing, arrival) + seconds
    joined = " ".join(texts)
    return {
        "voice": m.voice.label,
        "language": m.language,
        "speech_s": m.ends_s[-1],
        "segments": len(heard.order),
        "lags_s": lags,
        "heard_until_s": playing - (t0 + m.ends_s[-1]) if playing else float("nan"),
        "wer": wer(m.script, joined),
        "texts": texts,
        "audio_s": [heard.audio_s.get(uid, 0.0) for uid in heard.order],
    }


async def run_one(server: Server, m: Monologue) -> dict:
    """Streams one monologue into a room of its own, in real time; measures what is heard."""
    async with Connection(server.address) as parley:
        room = (await parley.rooms.create(open_room=True)).room.room_id
        listen = HEAR_IN[m.language]
        listener = parley.rooms.join(room, "Listener", listen, listen)
        speaker = parley.rooms.join(room, "Speaker", m.language, m.language)
        heard = Heard()
        reading = asyncio.ensure_future(_listen(listener, heard, 16_000))
        await asyncio.wait_for(heard.speaker_here.wait(), 30)
        data = (np.clip(m.audio, -1, 1) * 32767).astype("<i2").tobytes()
        step = int(RATE * CHUNK_S) * 2
        cpu0, t0 = server.cpu_seconds(), time.perf_counter()
        for i in range(0, len(data), step):
            await asyncio.sleep(max(0.0, t0 + i / 2 / RATE - time.perf_counter()))  # real time
            speaker.send_audio(data[i : i + step])
        await _until_heard(heard, _words(m.script) - 3, within_s=20)
        cpu = server.cpu_seconds() - cpu0
        for session in (speaker, listener):
            session.leave()
        reading.cancel()
    found = measure(m, heard, t0)
    found["cpu_s_per_min"] = cpu / (m.ends_s[-1] / 60)
    return found


async def _until_heard(heard: Heard, words: int, within_s: float) -> None:
    """Waits until the listener has the captions of ``words`` words and their audio has
    stopped coming for a second (or ``within_s`` passed)."""
    deadline = time.perf_counter() + within_s
    while (remaining := deadline - time.perf_counter()) > 0:
        heard.changed.clear()
        done = _words(" ".join(heard.texts.values())) >= words
        try:  # the next event, or a second of quiet once everything came
            await asyncio.wait_for(heard.changed.wait(), 1.0 if done else remaining)
        except TimeoutError:
            if done:
                return


async def whole_clip_wer(server: Server, m: Monologue) -> float:
    """WER of one Recognize of the whole monologue (cut in utterances of up to 15 s)."""
    async with Connection(server.address) as parley:
        results = await parley.stt.recognize(m.audio, RATE, m.language)
    return wer(m.script, " ".join(r.text for r in results))


def summary(rows: list[dict]) -> dict:
    lags = [lag for r in rows for lag in r["lags_s"] if lag == lag]
    missing = sum(lag != lag for r in rows for lag in r["lags_s"])
    return {
        "monologues": len(rows),
        "sentences": sum(len(r["lags_s"]) for r in rows),
        "lag_p50_s": percentile(lags, 50),
        "lag_p95_s": percentile(lags, 95),
        "never_heard": missing,
        "heard_until_max_s": max(r["heard_until_s"] for r in rows),
        "cpu_s_per_min": float(np.mean([r["cpu_s_per_min"] for r in rows])),
        "wer": float(np.mean([r["wer"] for r in rows])),
        "rows": rows,
    }
