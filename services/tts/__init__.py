"""TextToSpeechService: text -> audio stream."""

from parley.rpc import service_name
from parley.v1 import tts_pb2

SERVICE_NAME = service_name(tts_pb2.DESCRIPTOR, "TextToSpeechService")
DEFAULT_PORT = 50054
