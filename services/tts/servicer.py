"""The TextToSpeechService servicer: maps gRPC calls onto the engines."""

from __future__ import annotations

import grpc

from parley.launch import ServiceEntry
from parley.rpc import not_implemented
from parley.server import Service
from parley.v1 import tts_pb2_grpc
from services.tts import SERVICE_NAME


class TextToSpeechServicer(tts_pb2_grpc.TextToSpeechServiceServicer):
    """Answers every method with UNIMPLEMENTED until the engines land."""

    async def Synthesize(self, request, context: grpc.aio.ServicerContext):
        await not_implemented(context, SERVICE_NAME, "Synthesize")

    async def StreamingSynthesize(self, request, context: grpc.aio.ServicerContext):
        await not_implemented(context, SERVICE_NAME, "StreamingSynthesize")

    async def ListVoices(self, request, context: grpc.aio.ServicerContext):
        await not_implemented(context, SERVICE_NAME, "ListVoices")


def service() -> Service:
    """The service as a server hosts it."""
    servicer = TextToSpeechServicer()
    return Service(
        name=SERVICE_NAME,
        register=lambda server: tts_pb2_grpc.add_TextToSpeechServiceServicer_to_server(
            servicer, server
        ),
    )


ENTRY = ServiceEntry(build=service)
