"""Clients of the Parley services: the WebSocket gateway and its browser page (``gateway``)."""
