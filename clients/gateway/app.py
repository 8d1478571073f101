"""The gateway's FastAPI application: a small HTTP API, the room WebSocket and the browser page.

It is a client of the RoomService: rooms are created, counted and joined there, over one gRPC
channel shared by every request.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import urlsplit

import grpc
from fastapi import FastAPI, Request, WebSocket
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clients.gateway import messages
from clients.gateway.bridge import AUDIO_IN, AUDIO_OUT, Bridge, JoinParams
from clients.gateway.config import GatewayConfig
from parley.logs import get_logger
from parley.v1 import rooms_pb2, rooms_pb2_grpc
from parley_client.connection import make_channel

log = get_logger(__name__)
STARTUP_CHECK_S = 3.0  # how long the start waits to hear from the room service


async def _check_room_service(backend, config: GatewayConfig) -> None:
    """Says at start when the room service does not answer: the page would only show errors."""
    try:
        await backend.health.Check(
            health_pb2.HealthCheckRequest(service="parley.v1.RoomService"), timeout=STARTUP_CHECK_S
        )
    except grpc.aio.AioRpcError as exc:
        log.warning(
            "the room service does not answer: the page will report errors until it does; "
            "start it (parley serve) or point --rooms-address at it",
            address=config.rooms_address,
            status=exc.code().name,
        )


STATIC = Path(__file__).parent / "static"
ROOM_SERVICE = rooms_pb2.DESCRIPTOR.services_by_name["RoomService"].full_name
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class _Backend:
    """The RoomService channel, opened when the application starts."""

    channel: grpc.aio.Channel
    rooms: rooms_pb2_grpc.RoomServiceStub
    health: health_pb2_grpc.HealthStub


def create_app(config: GatewayConfig) -> FastAPI:
    """The gateway for the RoomService at ``config.rooms_address``.

    Args:
        config: the gateway's settings.

    Returns:
        An ASGI application (run it with uvicorn; see :mod:`clients.gateway.server`).
    """
    backend = _Backend()
    allowed = config.allowed_origins()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        backend.channel = make_channel(config.rooms_address, config.connection_options())
        backend.rooms = rooms_pb2_grpc.RoomServiceStub(backend.channel)
        backend.health = health_pb2_grpc.HealthStub(backend.channel)
        await _check_room_service(backend, config)
        try:
            yield
        finally:
            await backend.channel.close(grace=1.0)

    app = FastAPI(title="Parley gateway", version="1", lifespan=lifespan)
    if allowed:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(allowed), allow_methods=["GET"], allow_headers=["*"]
        )

    @app.get("/")
    async def status(request: Request):
        """Status of the gateway and of the RoomService behind it; browsers get the page."""
        if "text/html" in request.headers.get("accept", ""):
            return RedirectResponse("/app/", status_code=307)
        try:
            reply = await backend.health.Check(
                health_pb2.HealthCheckRequest(service=ROOM_SERVICE), timeout=2.0
            )
            state = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        except grpc.aio.AioRpcError as exc:
            state = exc.code().name
        return {
            "message": "Parley gateway is running",
            "room_service": config.rooms_address,
            "room_service_status": state,
        }

    @app.get("/create-room")
    async def create_room(name: str = ""):
        """Creates an open room in the RoomService; answers ``{"room_id": ...}``."""
        try:
            reply = await backend.rooms.CreateRoom(
                rooms_pb2.CreateRoomRequest(name=name, open=True), timeout=config.rpc_timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            return _rpc_error(exc)
        log.info("room created", room=reply.room.room_id)
        return {"room_id": reply.room.room_id, "name": reply.room.name}

    @app.get("/languages")
    async def languages():
        """What rooms hear, translate into and speak, per language (the page's pickers)."""
        try:
            reply = await backend.rooms.ListLanguages(
                rooms_pb2.ListLanguagesRequest(), timeout=config.rpc_timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            return _rpc_error(exc)
        return {"languages": [messages.language(item) for item in reply.languages]}

    @app.get("/rooms/{room_id}/participants")
    async def participants(room_id: str):
        """How many people are in a room (and who); 404 for an unknown room."""
        try:
            reply = await backend.rooms.GetRoom(
                rooms_pb2.GetRoomRequest(room_id=room_id), timeout=config.rpc_timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            return _rpc_error(exc)
        people = reply.room.participants
        return {
            "room_id": room_id,
            "participants": len(people),
            "people": [messages.participant(p, "") for p in people],
        }

    @app.websocket("/ws/{room_id}")
    async def room_socket(websocket: WebSocket, room_id: str):
        """Takes part in a room: PCM16 audio in, captions and translated speech out."""
        origin = websocket.headers.get("origin")
        if not _origin_allowed(origin, websocket.headers.get("host", ""), allowed):
            log.warning("websocket refused", origin=origin)
            await websocket.close(messages.CLOSE_POLICY)  # before accept: HTTP 403
            return
        await websocket.accept()
        try:
            params = _join_params(room_id, websocket.query_params)
        except ValueError as exc:
            code = grpc.StatusCode.INVALID_ARGUMENT
            await websocket.send_json(messages.error(code, str(exc)))
            await websocket.close(messages.close_code(code), messages.close_reason(str(exc)))
            return
        await Bridge(websocket, backend.rooms, params).run()

    app.mount("/app", StaticFiles(directory=STATIC, html=True), name="page")
    return app


def _rpc_error(exc: grpc.aio.AioRpcError) -> JSONResponse:
    return JSONResponse(
        {"detail": exc.details() or exc.code().name, "code": exc.code().name},
        status_code=messages.http_status(exc.code()),
    )


def _origin_allowed(origin: str | None, host: str, allowed: tuple[str, ...]) -> bool:
    """Browsers name the page that opens a WebSocket; only the allowed ones may. Programs that
    send no Origin are not pages and are let in."""
    if not origin:
        return True
    if "*" in allowed or origin.rstrip("/") in allowed:
        return True
    return urlsplit(origin).netloc == host


def _join_params(room_id: str, query) -> JoinParams:
    """The join the query string asks for.

    Raises:
        ValueError: for a missing target_lang, an interim value that is not a boolean, or an
            audio_in or audio_out the gateway does not know. The languages themselves are
            checked by the RoomService.
    """
    target = query.get("target_lang", "").strip()
    if not target:
        raise ValueError("target_lang is required, for example /ws/ROOM?target_lang=es")
    interim = query.get("interim", "1").strip().lower()
    if interim not in _TRUE | _FALSE:
        raise ValueError(f"interim={interim!r} is not a boolean (use 1/0, true/false)")
    return JoinParams(
        room_id=room_id,
        target_lang=target,
        source_lang=query.get("source_lang", "").strip(),
        name=query.get("name", "").strip(),
        interim=interim in _TRUE,
        audio_in=_choice(query, "audio_in", AUDIO_IN),
        audio_out=_choice(query, "audio_out", AUDIO_OUT),
    )


def _choice(query, name: str, choices) -> str:
    """The query's ``name`` (default ``pcm``), which must be one of ``choices``."""
    value = query.get(name, "pcm").strip().lower()
    if value not in choices:
        raise ValueError(f"{name}={value!r}: use {', '.join(choices)}")
    return value
