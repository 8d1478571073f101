"""SpeechToTextService: audio stream -> partial and final transcripts."""

from parley.rpc import service_name
from parley.v1 import stt_pb2

SERVICE_NAME = service_name(stt_pb2.DESCRIPTOR, "SpeechToTextService")
DEFAULT_PORT = 50052
