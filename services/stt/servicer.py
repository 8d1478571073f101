"""The SpeechToTextService servicer: maps gRPC calls onto the engines."""

from __future__ import annotations

import grpc

from parley.launch import ServiceEntry
from parley.rpc import not_implemented
from parley.server import Service
from parley.v1 import stt_pb2_grpc
from services.stt import SERVICE_NAME


class SpeechToTextServicer(stt_pb2_grpc.SpeechToTextServiceServicer):
    """Answers every method with UNIMPLEMENTED until the engines land."""

    async def StreamingRecognize(self, request_iterator, context: grpc.aio.ServicerContext):
        await not_implemented(context, SERVICE_NAME, "StreamingRecognize")

    async def Recognize(self, request, context: grpc.aio.ServicerContext):
        await not_implemented(context, SERVICE_NAME, "Recognize")

    async def ListModels(self, request, context: grpc.aio.ServicerContext):
        await not_implemented(context, SERVICE_NAME, "ListModels")


def service() -> Service:
    """The service as a server hosts it."""
    servicer = SpeechToTextServicer()
    return Service(
        name=SERVICE_NAME,
        register=lambda server: stt_pb2_grpc.add_SpeechToTextServiceServicer_to_server(
            servicer, server
        ),
    )


ENTRY = ServiceEntry(build=service)
