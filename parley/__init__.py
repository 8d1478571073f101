"""Parley: real-time speech translation over gRPC.

This package holds what every service shares: the generated API (``parley.v1``), the server
bootstrap, settings and logging. The services themselves live in the ``services`` package.
"""

__version__ = "0.1.0"
