"""The RoomService servicer: room lifecycle and the Join stream."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

import grpc

from parley.errors import (
    AlreadyExists,
    InvalidInput,
    NotFound,
    OutOfOrder,
    ParleyError,
    PermissionDenied,
    quoted,
)
from parley.launch import ServiceEntry
from parley.logs import get_logger
from parley.pacing import AudioPacer
from parley.rpc import (
    Unreadable,
    abort_with,
    first_message,
    passthrough_serializer,
    register_servicer,
)
from parley.server import ParleyServer, Service
from parley.v1 import rooms_pb2, rooms_pb2_grpc
from parley_client.connection import ConnectionOptions
from services.rooms import SERVICE_NAME
from services.rooms.backends import Backends, GrpcBackends
from services.rooms.config import RoomsConfig
from services.rooms.directory import make_directory
from services.rooms.fanout import notice
from services.rooms.languages import room_languages
from services.rooms.outbox import SerializedChunk
from services.rooms.requests import MAX_NAME_CHARS, check_create, glossary, member_from
from services.rooms.room import DISCONNECTED, LEFT, Member, Room
from services.rooms.speech import RoomSpeech

log = get_logger(__name__)

CANCELLATION_S = 0.2  # how long after a request stream ends gRPC may report its cancellation


class RoomServicer(rooms_pb2_grpc.RoomServiceServicer):
    """Rooms of this server and the streams of their members."""

    def __init__(self, config: RoomsConfig) -> None:
        self._config = config
        # Where rooms live: this process, or Redis shared with other replicas.
        self.directory = make_directory(config)
        self._registry = self.directory.registry  # this process's rooms
        self._draining = False
        self._backends: Backends | None = None  # given at start

    async def start(self, backends: Backends) -> None:
        """Gives every room its speech over ``backends`` and starts the directory."""
        config, directory = self._config, self.directory

        def speech_for(room: Room) -> RoomSpeech:
            fanout = directory.fanout(room, backends, config.backend_timeout_s)
            return RoomSpeech(room, backends, fanout, config.stt_model, config.backend_timeout_s)

        self._registry.speech_for = speech_for
        self._backends = backends
        await directory.start(backends)

    async def CreateRoom(self, request, context):
        try:
            check_create(request, self._config)
            limits = request.limits
            room = await self.directory.create(
                request.room_id,
                request.name,
                limits.max_participants,
                limits.empty_timeout.ToNanoseconds() / 1e9,
                limits.max_utterance_ms,
                request.open,
            )
            room.glossary = glossary(request)
        except ParleyError as exc:
            await abort_with(context, exc)
        return rooms_pb2.CreateRoomResponse(room=room.to_proto(), join_token=room.join_token)

    async def GetRoom(self, request, context):
        try:
            room = await self.directory.describe(request.room_id)
        except ParleyError as exc:
            await abort_with(context, exc)
        return rooms_pb2.GetRoomResponse(room=room)

    async def ListRooms(self, request, context):
        if request.page_size < 0 or request.page_size > 1000:
            await abort_with(context, InvalidInput("page_size must be between 0 and 1000"))
        size = request.page_size or 100
        try:
            rooms = await self.directory.list()
        except ParleyError as exc:
            await abort_with(context, exc)
        start = 0
        if request.page_token:
            ids = [r.room_id for r in rooms]
            if request.page_token not in ids:
                await abort_with(context, InvalidInput("page_token is not a room of this list"))
            start = ids.index(request.page_token)
        page = rooms[start : start + size]
        following = rooms[start + size : start + size + 1]
        return rooms_pb2.ListRoomsResponse(
            rooms=page,
            next_page_token=following[0].room_id if following else "",
        )

    async def CloseRoom(self, request, context):
        try:
            if len(request.reason) > MAX_NAME_CHARS:
                raise InvalidInput(f"reason is {len(request.reason):,} characters; the limit is "
                                   f"{MAX_NAME_CHARS}")  # fmt: skip
            room = await self.directory.find(request.room_id)
            count = await self.directory.close(room, request.reason or "closed by the server")
        except ParleyError as exc:
            await abort_with(context, exc)
        return rooms_pb2.CloseRoomResponse(participants_disconnected=count)

    async def ListLanguages(self, request, context):
        try:
            models, pairs, voices = await self._backends.catalogue(self._config.backend_timeout_s)
        except grpc.aio.AioRpcError as exc:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                f"a service behind the rooms did not say what it offers: {exc.code().name}: "
                f"{exc.details()}",
            )
        return room_languages(models, pairs, voices, self._config.stt_model)

    async def Join(
        self, request_iterator: AsyncIterator[rooms_pb2.JoinRequest], context
    ) -> AsyncIterator[rooms_pb2.JoinResponse]:
        try:
            first = await first_message(
                request_iterator,
                self._config.join_first_message_timeout_s,
                "PARLEY_ROOMS_JOIN_FIRST_MESSAGE_TIMEOUT_S",
            )
            if first is None:
                return
            room, member = await self._admit(first)
        except ParleyError as exc:
            await abort_with(context, exc)
        reader = room.tasks.spawn(self._read(room, member, request_iterator, context), "read")
        reason = DISCONNECTED
        try:
            while (event := await member.outbox.get()) is not None:
                yield event.data if isinstance(event, SerializedChunk) else event
            reason = LEFT
        finally:
            reader.cancel()
            room.leave(member, reason)

    async def _admit(self, first: rooms_pb2.JoinRequest) -> tuple[Room, Member]:
        if not first.HasField("join"):
            raise OutOfOrder("the first message of Join must be a JoinRoom")
        join = first.join
        try:
            room = await self.directory.find(join.room_id)
        except NotFound:
            if not (join.create_if_missing and self._config.allow_create_on_join):
                raise
            # Nobody would know the token of a room made this way: it is open.
            try:
                room = await self.directory.create(join.room_id, open_room=True)
            except AlreadyExists:  # another replica made it a moment ago
                room = await self.directory.find(join.room_id)
        if not room.open:
            if not join.join_token:
                raise PermissionDenied(
                    f"room {quoted(room.room_id)} is not open: JoinRoom.join_token must carry the "
                    "token that CreateRoom returned"
                )
            if not secrets.compare_digest(join.join_token, room.join_token):
                raise PermissionDenied(f"wrong join token for room {quoted(room.room_id)}")
        member = member_from(join, self._config)
        await self.directory.admit(room, member)
        room.welcome(member)
        if room.speech is not None:
            room.tasks.spawn(room.speech.fanout.check_reach(member), "check reach")
        return room, member

    async def _read(self, room: Room, member: Member, requests, context) -> None:
        """Takes the member's audio and settings until they leave (LeaveRoom or half-close);
        a broken stream is left to Join's clean-up, as a disconnection."""
        fmt = member.input_format
        pacer = AudioPacer(self._config.join_audio_burst_s, fmt.bytes_per_second)
        try:
            async for request in requests:
                if isinstance(request, Unreadable):
                    self._tell(room, member, f"{request.error()}: message ignored")
                    continue
                kind = request.WhichOneof("event")
                if kind == "audio":
                    if self._draining:
                        continue  # the room is closing: nothing new is recognised
                    # Waits first: no chunk is taken ahead of the allowed pace.
                    await self._pace(room, member, pacer, len(request.audio.data))
                    if room.speech is not None:
                        room.speech.feed(member, request.audio.data)
                elif kind == "update_settings":
                    try:
                        room.update(member, request.update_settings)
                    except InvalidInput as exc:
                        self._tell(room, member, str(exc))
                elif kind == "leave":
                    break
                elif kind == "join":
                    self._tell(room, member, "you are already in the room: JoinRoom ignored")
                else:
                    self._tell(room, member, "empty JoinRequest ignored")
        except (grpc.aio.AioRpcError, asyncio.CancelledError):
            return
        # The request stream ended: a half-close (a deliberate leave), or a cancelled call,
        # whose cancellation gRPC reports a moment after ending the stream. Nothing in the
        # protocol says that a half-close is not a cancellation on its way, so the call's end
        # is awaited for a bounded moment; a cancelled call ends here at once.
        ended = asyncio.Event()
        context.add_done_callback(lambda _context: ended.set())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ended.wait(), CANCELLATION_S)
        if not context.cancelled():
            room.leave(member, LEFT)

    async def _pace(self, room: Room, member: Member, pacer: AudioPacer, size: int) -> None:
        """Holds back a participant who sends audio faster than real time (after a burst)."""

        def first_held() -> None:
            log.info("audio faster than real time: throttled", participant=member.participant_id)
            room.send(
                member,
                notice(
                    rooms_pb2.NOTICE_CODE_RATE_LIMITED,
                    "limit join_audio_burst_s: audio is arriving faster than real time; "
                    f"beyond {self._config.join_audio_burst_s:g} s ahead it is read at "
                    "real-time pace (PARLEY_ROOMS_JOIN_AUDIO_BURST_S)",
                ),
            )

        await pacer.pace(size, first_held)

    def _tell(self, room: Room, member: Member, message: str) -> None:
        room.send(member, notice(rooms_pb2.NOTICE_CODE_INVALID_INPUT, message))

    async def drain(self) -> None:
        """On shutdown: every member is told, what is being said is recognised and delivered
        (for up to ``drain_timeout_s``), then every room closes with a reason."""
        self._draining = True
        rooms = self._registry.list()
        for room in rooms:
            room.broadcast(
                notice(
                    rooms_pb2.NOTICE_CODE_SHUTTING_DOWN,
                    "the server is shutting down: utterances in progress are finished, then "
                    "the room closes",
                )
            )
        timeout = self._config.drain_timeout_s
        lates = await asyncio.gather(
            *(room.speech.finish_all(timeout) for room in rooms if room.speech is not None)
        )
        late = sum(lates)
        if late:
            log.warning("speech in progress dropped at shutdown", speakers=late)
            for room in rooms:
                room.broadcast(
                    notice(
                        rooms_pb2.NOTICE_CODE_SHUTTING_DOWN,
                        f"{late} speaker(s) were cut off: what they were saying could not be "
                        "delivered before the shutdown",
                        severity=rooms_pb2.NOTICE_SEVERITY_ERROR,
                    )
                )
        for room in rooms:
            room.close("the server is shutting down")


def _address(server: ParleyServer, configured: str, service: str, variable: str) -> str:
    """A peer's address: the configured one, else this server if it hosts the peer.

    Raises:
        InvalidInput: if neither, so that a split deployment fails at start, not mid-call.
    """
    if configured:
        return configured
    if f"parley.v1.{service}" in server.service_names:
        return server.local_address
    raise InvalidInput(f"{variable} is not set and this server does not host {service}")


def _backend_security(
    config: RoomsConfig, server: ParleyServer, addresses: list[str]
) -> ConnectionOptions:
    """How the engine services are reached: the configured key and certificates; when this
    server hosts them, one of its own keys, and TLS if it has TLS.

    Raises:
        InvalidInput: if this server has TLS, hosts an engine service and no CA is configured
            to check its own certificate.
    """
    hosted_here = server.local_address in addresses
    if hosted_here and server.tls and not config.backend_ca_file:
        raise InvalidInput(
            "this server has TLS and hosts the engine services: set PARLEY_BACKEND_CA_FILE to "
            "the CA of its certificate so that the room service can reach them"
        )
    key = config.backend_api_key or (server.internal_api_key if hosted_here else None)
    return ConnectionOptions(
        tls=bool(config.backend_ca_file),
        root_certificates=config.backend_ca_file or None,
        client_certificate=config.backend_cert_file or None,
        client_key=config.backend_key_file or None,
        api_key=key or None,
        server_name=config.backend_server_name or None,
    )


def service(config: RoomsConfig, backends: Backends | None = None) -> Service:
    """The service as a server hosts it. ``backends`` replaces the gRPC clients (tests)."""
    servicer = RoomServicer(config)

    state: dict[str, Backends] = {}

    async def start(server: ParleyServer) -> None:
        if backends is not None:
            state["backends"] = backends
            await servicer.start(backends)
            return
        peers = [
            (config.stt_address, "SpeechToTextService", "PARLEY_STT_ADDRESS"),
            (config.translate_address, "TranslationService", "PARLEY_TRANSLATE_ADDRESS"),
            (config.tts_address, "TextToSpeechService", "PARLEY_TTS_ADDRESS"),
        ]
        addresses = [_address(server, *peer) for peer in peers]
        state["backends"] = GrpcBackends(
            *addresses, options=_backend_security(config, server, addresses)
        )
        await servicer.start(state["backends"])

    async def stop() -> None:
        await servicer.directory.stop()
        if "backends" in state:
            await state["backends"].close()

    return Service(
        name=SERVICE_NAME,
        register=lambda server: register_servicer(
            server,
            servicer,
            rooms_pb2.DESCRIPTOR.services_by_name["RoomService"],
            {"Join": passthrough_serializer(rooms_pb2.JoinResponse)},
        ),
        start=start,
        drain=servicer.drain,
        stop=stop,
    )


ENTRY = ServiceEntry(build=service, settings=RoomsConfig)
