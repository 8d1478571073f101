"""Runs the RoomService alone: ``python -m services.rooms --port 50051``."""

import sys

import services.rooms
from parley.launch import main
from services.rooms import DEFAULT_PORT
from services.rooms.servicer import ENTRY

if __name__ == "__main__":
    sys.exit(
        main(
            None,
            prog="python -m services.rooms",
            description=services.rooms.__doc__,
            entries=[ENTRY],
            port=DEFAULT_PORT,
        )
    )
