"""Runs the TextToSpeechService alone: ``python -m services.tts --port 50054``."""

import sys

import services.tts
from parley.launch import main
from services.tts import DEFAULT_PORT
from services.tts.servicer import ENTRY

if __name__ == "__main__":
    sys.exit(
        main(
            None,
            prog="python -m services.tts",
            description=services.tts.__doc__,
            entries=[ENTRY],
            port=DEFAULT_PORT,
        )
    )
