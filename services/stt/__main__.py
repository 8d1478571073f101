"""Runs the SpeechToTextService alone: ``python -m services.stt --port 50052``."""

import sys

import services.stt
from parley.launch import main
from services.stt import DEFAULT_PORT
from services.stt.servicer import ENTRY

if __name__ == "__main__":
    sys.exit(
        main(
            None,
            prog="python -m services.stt",
            description=services.stt.__doc__,
            entries=[ENTRY],
            port=DEFAULT_PORT,
        )
    )
