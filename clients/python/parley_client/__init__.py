"""Parley's Python SDK: small typed clients over the generated gRPC stubs.

    import asyncio
    from parley_client import Connection

    async def main():
        async with Connection("127.0.0.1:50051") as parley:
            print(await parley.translation.translate(["Good morning"], "en", ["es", "fr"]))

    asyncio.run(main())

The message types users need are re-exported here, so nobody imports ``*_pb2`` directly.
"""

from parley.v1.audio_pb2 import AudioChunk, AudioFormat
from parley.v1.rooms_pb2 import Caption, JoinResponse, Notice, Participant, Room
from parley.v1.stt_pb2 import RecognitionConfig, RecognitionResult
from parley.v1.translate_pb2 import LanguagePair, Translation
from parley.v1.tts_pb2 import Voice
from parley_client.audio import chunks, from_pcm16, read_wav, to_pcm16, write_wav
from parley_client.connection import Connection, ConnectionOptions
from parley_client.rooms import Rooms, RoomSession
from parley_client.stt import SpeechToText
from parley_client.translate import Translator
from parley_client.tts import Speech, TextToSpeech

__all__ = [
    "AudioChunk",
    "AudioFormat",
    "Caption",
    "Connection",
    "ConnectionOptions",
    "JoinResponse",
    "LanguagePair",
    "Notice",
    "Participant",
    "RecognitionConfig",
    "RecognitionResult",
    "Room",
    "RoomSession",
    "Rooms",
    "Speech",
    "SpeechToText",
    "TextToSpeech",
    "Translation",
    "Translator",
    "Voice",
    "chunks",
    "from_pcm16",
    "read_wav",
    "to_pcm16",
    "write_wav",
]
