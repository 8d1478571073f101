"""The WebSocket gateway and browser page of Parley, a client of the RoomService.

``parley gateway`` serves, in front of a running ``parley serve``: ``GET /`` (status),
``GET /create-room``, ``GET /rooms/{id}/participants``, ``WS /ws/{room_id}`` (one participant
per socket: PCM16 audio in; captions, room updates and translated speech out) and the browser
page under ``/app/``. Imports nothing heavy, so that the ``parley`` command stays quick: the
application is in :mod:`clients.gateway.app`, the runner in :mod:`clients.gateway.server`.
"""
