"""The TranslationService servicer: maps gRPC calls onto the engines."""

from __future__ import annotations

import grpc

from parley.launch import ServiceEntry
from parley.rpc import not_implemented
from parley.server import Service
from parley.v1 import translate_pb2_grpc
from services.translate import SERVICE_NAME


class TranslationServicer(translate_pb2_grpc.TranslationServiceServicer):
    """Answers every method with UNIMPLEMENTED until the engines land."""

    async def Translate(self, request, context: grpc.aio.ServicerContext):
        await not_implemented(context, SERVICE_NAME, "Translate")

    async def StreamingTranslate(self, request_iterator, context: grpc.aio.ServicerContext):
        await not_implemented(context, SERVICE_NAME, "StreamingTranslate")

    async def ListLanguagePairs(self, request, context: grpc.aio.ServicerContext):
        await not_implemented(context, SERVICE_NAME, "ListLanguagePairs")


def service() -> Service:
    """The service as a server hosts it."""
    servicer = TranslationServicer()
    return Service(
        name=SERVICE_NAME,
        register=lambda server: translate_pb2_grpc.add_TranslationServiceServicer_to_server(
            servicer, server
        ),
    )


ENTRY = ServiceEntry(build=service)
