"""Text limits of the TranslationService: per text and per request, each named; empty texts."""

from __future__ import annotations

import grpc
import pytest

from parley.v1 import translate_pb2 as pb


async def failure(awaitable) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await awaitable
    return info.value


async def test_a_request_over_the_request_limit_is_refused_naming_it(stub):
    # 40,000 characters into 6 languages is 240,000 characters of work: over the 200,000.
    text = "The house is big. " * 2_223
    error = await failure(
        stub.Translate(
            pb.TranslateRequest(
                texts=[text[:40_000]],
                source_language="en",
                target_languages=["es", "fr", "it", "pt", "ca", "gl"],
            ),
            timeout=30,
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "240,000 characters of translation" in error.details()
    assert "PARLEY_TRANSLATE_MAX_REQUEST_CHARS" in error.details()
    # The same text into one language is within the limit and is translated.
    reply = await stub.Translate(
        pb.TranslateRequest(texts=[text[:40_000]], source_language="en", target_languages=["es"]),
        timeout=60,
    )
    assert reply.translations[0].text.count("casa") >= 2_000


async def test_empty_and_blank_texts_translate_to_themselves(stub):
    reply = await stub.Translate(
        pb.TranslateRequest(texts=["", "  "], source_language="en", target_languages=["es"]),
        timeout=10,
    )
    assert [t.text for t in reply.translations] == ["", "  "]


async def test_streamed_segments_over_the_text_limit_end_the_stream_naming_it(stub):
    requests = [
        pb.StreamingTranslateRequest(
            config=pb.StreamingTranslateConfig(source_language="en", target_languages=["es"])
        ),
        pb.StreamingTranslateRequest(segment=pb.TextSegment(segment_id="a", text="Thank you.")),
        pb.StreamingTranslateRequest(segment=pb.TextSegment(segment_id="b", text="x" * 50_001)),
    ]
    replies = []
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for reply in stub.StreamingTranslate(iter(requests), timeout=30):
            replies.append(reply)
    assert [r.segment_id for r in replies] == ["a"] and "gracias" in replies[0].translations[
        0
    ].text.lower()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "PARLEY_TRANSLATE_MAX_TEXT_CHARS" in info.value.details()
