"""Coqui TTS through the service: a tiny randomly initialised VITS saved as checkpoint + config.

No Coqui voice ships in any package, so the test builds one; its speech is noise, but it goes
through the real loading and synthesis code (the same as a trained checkpoint).
"""

from __future__ import annotations

import math

import grpc
import numpy as np
import pytest

from parley.server import running
from parley.v1 import audio_pb2, tts_pb2, tts_pb2_grpc
from services.tts.config import TtsConfig
from services.tts.servicer import service
from tests.tts.conftest import SERVER, decode

pytest.importorskip("TTS", reason="the coqui extra is not installed (see the README)")

RATE = 16_000


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny VITS (about 400k parameters), randomly initialised, saved like a trained one."""
    import torch
    from TTS.config.shared_configs import BaseAudioConfig
    from TTS.tts.configs.vits_config import VitsArgs, VitsConfig
    from TTS.tts.models.vits import Vits

    torch.manual_seed(0)
    args = VitsArgs(
        hidden_channels=32,
        hidden_channels_ffn_text_encoder=64,
        num_layers_text_encoder=1,
        num_layers_flow=1,
        num_layers_posterior_encoder=1,
        upsample_initial_channel_decoder=32,
        use_sdp=False,
        init_discriminator=False,
    )
    config = VitsConfig(
        model_args=args,
        audio=BaseAudioConfig(sample_rate=RATE, fft_size=1024, hop_length=256, win_length=1024),
        use_phonemes=False,
        text_cleaner="basic_cleaners",
        run_name="tiny-vits",
    )
    model = Vits(config)
    folder = tmp_path_factory.mktemp("coqui")
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    config.save_json(str(folder / "config.json"))
    return folder


@pytest.fixture
async def stub(checkpoint):
    config = TtsConfig(
        tts_engines="coqui,pico",
        tts_coqui_checkpoint=str(checkpoint / "model.pth"),
        tts_coqui_config=str(checkpoint / "config.json"),
        tts_preload=False,
    )
    async with running([service(config)], SERVER) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield tts_pb2_grpc.TextToSpeechServiceStub(channel)


async def test_the_checkpoint_is_listed_as_a_neural_voice(stub):
    reply = await stub.ListVoices(tts_pb2.ListVoicesRequest(engine="coqui"))
    (voice,) = reply.voices
    assert voice.name == "coqui:tiny-vits"
    assert list(voice.languages) == ["en"]
    assert voice.sample_rate_hz == RATE
    assert voice.quality == tts_pb2.VOICE_QUALITY_NEURAL
    assert list(voice.default_for_languages) == ["en"], "neural ranks above Pico"


@pytest.mark.parametrize("rate", [0, 22_050])
async def test_the_checkpoint_synthesises_through_the_engine(stub, rate):
    reply = await stub.Synthesize(
        tts_pb2.SynthesizeRequest(
            text="Hello world. This is a tiny model.",
            voice=tts_pb2.VoiceSelection(language="en"),
            audio_format=audio_pb2.AudioFormat(
                encoding=audio_pb2.AUDIO_ENCODING_FLOAT32, sample_rate_hz=rate
            ),
        ),
        timeout=120,
    )
    assert reply.voice.name == "coqui:tiny-vits"
    assert reply.audio_format.sample_rate_hz == (rate or RATE)
    samples = decode(reply.audio, audio_pb2.AUDIO_ENCODING_FLOAT32)
    seconds = reply.duration.seconds + reply.duration.nanos / 1e9
    assert samples.shape[0] > 0
    assert math.isclose(seconds, samples.shape[0] / (rate or RATE), abs_tol=1e-3)
    assert np.isfinite(samples).all()
    assert np.abs(samples).max() > 0.0, "not all silence"


async def test_the_checkpoint_streams_sentence_by_sentence(stub):
    request = tts_pb2.StreamingSynthesizeRequest(
        text="First sentence. Second sentence.",
        voice=tts_pb2.VoiceSelection(engine="coqui", language="en"),
    )
    replies = [r async for r in stub.StreamingSynthesize(request, timeout=120)]
    assert {r.sentence_index for r in replies} == {0, 1}
    assert sum(len(r.audio) for r in replies) > 0
