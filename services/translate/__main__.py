"""Runs the TranslationService alone: ``python -m services.translate --port 50053``."""

import sys

import services.translate
from parley.launch import main
from services.translate import DEFAULT_PORT
from services.translate.servicer import ENTRY

if __name__ == "__main__":
    sys.exit(
        main(
            None,
            prog="python -m services.translate",
            description=services.translate.__doc__,
            entries=[ENTRY],
            port=DEFAULT_PORT,
        )
    )
