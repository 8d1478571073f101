"""The RoomService servicer: maps gRPC calls onto the engines."""

from __future__ import annotations

import grpc

from parley.launch import ServiceEntry
from parley.rpc import not_implemented
from parley.server import Service
from parley.v1 import rooms_pb2_grpc
from services.rooms import SERVICE_NAME


class RoomServicer(rooms_pb2_grpc.RoomServiceServicer):
    """Answers every method with UNIMPLEMENTED until the engines land."""

    async def CreateRoom(self, request, context: grpc.aio.ServicerContext):
        await not_implemented(context, SERVICE_NAME, "CreateRoom")

    async def GetRoom(self, request, context: grpc.aio.ServicerContext):
        await not_implemented(context, SERVICE_NAME, "GetRoom")

    async def ListRooms(self, request, context: grpc.aio.ServicerContext):
        await not_implemented(context, SERVICE_NAME, "ListRooms")

    async def CloseRoom(self, request, context: grpc.aio.ServicerContext):
        await not_implemented(context, SERVICE_NAME, "CloseRoom")

    async def Join(self, request_iterator, context: grpc.aio.ServicerContext):
        await not_implemented(context, SERVICE_NAME, "Join")


def service() -> Service:
    """The service as a server hosts it."""
    servicer = RoomServicer()
    return Service(
        name=SERVICE_NAME,
        register=lambda server: rooms_pb2_grpc.add_RoomServiceServicer_to_server(servicer, server),
    )


ENTRY = ServiceEntry(build=service)
