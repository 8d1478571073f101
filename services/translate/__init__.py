"""TranslationService: text -> text, any engine, direct or pivot route."""

from parley.rpc import service_name
from parley.v1 import translate_pb2

SERVICE_NAME = service_name(translate_pb2.DESCRIPTOR, "TranslationService")
DEFAULT_PORT = 50053
