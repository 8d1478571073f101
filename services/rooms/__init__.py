"""RoomService: rooms, participants, fan-out of every utterance."""

from parley.rpc import service_name
from parley.v1 import rooms_pb2

SERVICE_NAME = service_name(rooms_pb2.DESCRIPTOR, "RoomService")
DEFAULT_PORT = 50051
