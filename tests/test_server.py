"""Each service in-process on a free port: health, reflection and clear answers to empty calls."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from parley.server import ParleyServer, ServerConfig, ServerError, running
from parley.v1 import rooms_pb2, stt_pb2, translate_pb2, tts_pb2
from services.rooms.config import RoomsConfig
from services.rooms.servicer import service as make_rooms_service
from services.stt.config import SttConfig
from services.stt.servicer import service as make_stt_service
from services.translate.servicer import service as translate_service
from services.tts.servicer import service as tts_service

CONFIG = ServerConfig(host="127.0.0.1", port=0, auth="disabled")


def stt_service():
    """The STT service without loading a model: these tests are about the server."""
    return make_stt_service(SttConfig(preload="lazy"))


CLEAR_ANSWERS = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.NOT_FOUND,
}


def rooms_alone():
    """The room service with peers that are never called in these tests."""
    peer = "127.0.0.1:9"
    return make_rooms_service(
        RoomsConfig(stt_address=peer, translate_address=peer, tts_address=peer)
    )


SERVICES = {
    "parley.v1.RoomService": (rooms_alone, rooms_pb2),
    "parley.v1.SpeechToTextService": (stt_service, stt_pb2),
    "parley.v1.TranslationService": (translate_service, translate_pb2),
    "parley.v1.TextToSpeechService": (tts_service, tts_pb2),
}
HEALTH = "grpc.health.v1.Health"
REFLECTION = "grpc.reflection.v1alpha.ServerReflection"


async def reflected_services(channel: grpc.aio.Channel) -> set[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    call = stub.ServerReflectionInfo()
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    response = await call.read()
    await call.done_writing()
    return {s.name for s in response.list_services_response.service}


async def describe(channel: grpc.aio.Channel, symbol: str) -> descriptor_pb2.FileDescriptorProto:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    call = stub.ServerReflectionInfo()
    await call.write(reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol))
    response = await call.read()
    await call.done_writing()
    assert response.HasField("file_descriptor_response"), response
    proto = descriptor_pb2.FileDescriptorProto()
    proto.ParseFromString(response.file_descriptor_response.file_descriptor_proto[0])
    return proto


async def call_empty(channel: grpc.aio.Channel, service: str, method) -> grpc.StatusCode:
    """Calls ``method`` with one empty request, whatever its streaming kind, and returns the
    status it ended with."""
    path = f"/{service}/{method.name}"
    identity = dict(request_serializer=lambda m: m, response_deserializer=lambda b: b)
    try:
        if method.client_streaming and method.server_streaming:
            async for _ in channel.stream_stream(path, **identity)(iter([b""]), timeout=30):
                pass
        elif method.server_streaming:
            async for _ in channel.unary_stream(path, **identity)(b"", timeout=30):
                pass
        else:
            await channel.unary_unary(path, **identity)(b"", timeout=30)
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


PEERS_DOWN = {"ListLanguages": {grpc.StatusCode.UNAVAILABLE}}


@pytest.mark.parametrize("name", sorted(SERVICES))
async def test_service_alone_serves_health_and_reflection(name):
    factory, module = SERVICES[name]
    async with running([factory()], CONFIG) as server:
        assert server.port > 0
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for svc in ("", name):
                reply = await health.Check(health_pb2.HealthCheckRequest(service=svc), timeout=5)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.aio.AioRpcError) as unknown:
                await health.Check(health_pb2.HealthCheckRequest(service="parley.v1.Nope"))
            assert unknown.value.code() == grpc.StatusCode.NOT_FOUND

            assert await reflected_services(channel) == {name, HEALTH, REFLECTION}
            file_proto = await describe(channel, name)
            assert file_proto.package == "parley.v1"
            assert name.split(".")[-1] in {s.name for s in file_proto.service}

            methods = module.DESCRIPTOR.services_by_name[name.split(".")[-1]].methods
            assert methods
            # Every method answers an empty request with a deliberate status; the rooms' list
            # of languages comes from their peers, which are not running here.
            for method in methods:
                code = await call_empty(channel, name, method)
                expected = CLEAR_ANSWERS | PEERS_DOWN.get(method.name, set())
                assert code in expected, (method.name, code)


async def test_all_services_in_one_server():
    async with running([f() for f, _ in SERVICES.values()], CONFIG) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            assert await reflected_services(channel) == {*SERVICES, HEALTH, REFLECTION}
            health = health_pb2_grpc.HealthStub(channel)
            for name in SERVICES:
                reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
                assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_message_size_limit_is_enforced():
    config = ServerConfig(host="127.0.0.1", port=0, auth="disabled", max_message_bytes=1024)
    async with running([stt_service()], config) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            big = stt_pb2.RecognizeRequest(audio=b"\0" * 4096)
            stub = channel.unary_unary(
                "/parley.v1.SpeechToTextService/Recognize",
                request_serializer=stt_pb2.RecognizeRequest.SerializeToString,
            )
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub(big, timeout=5)
            assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_port_in_use_is_a_clear_error():
    async with running([stt_service()], CONFIG) as first:
        second = ParleyServer(
            [stt_service()],
            ServerConfig(host="127.0.0.1", port=first.port, auth="disabled"),
        )
        with pytest.raises(ServerError, match=f"cannot listen on 127.0.0.1:{first.port}"):
            await second.start()


async def test_stop_turns_health_not_serving_for_watchers():
    server = ParleyServer([tts_service()], CONFIG)
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service="parley.v1.TextToSpeechService")
        )
        first = await watch.read()
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        stopping = asyncio.create_task(server.stop(grace=0.5))
        statuses = []
        try:
            while (reply := await watch.read()) is not grpc.aio.EOF:
                statuses.append(reply.status)
        except grpc.aio.AioRpcError:
            pass  # the stream is cancelled when the grace period ends
        await stopping
        assert health_pb2.HealthCheckResponse.NOT_SERVING in statuses


@pytest.mark.parametrize("age_s", [0.0, 0.5])
async def test_connections_are_renewed_after_their_maximum_age(age_s):
    """So that clients balancing over a DNS name reconnect and find new replicas; a stream
    open at that moment is not cut."""
    config = ServerConfig(host="127.0.0.1", port=0, auth="disabled", max_connection_age_s=age_s)
    async with running([tts_service()], config) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
            await asyncio.sleep(1.5)
            assert not watch.done()  # the stream outlives the connection's age
            watch.cancel()
            await asyncio.sleep(0.3)
            state = channel.get_state(try_to_connect=False)
        expected = grpc.ChannelConnectivity.IDLE if age_s else grpc.ChannelConnectivity.READY
        assert state == expected
