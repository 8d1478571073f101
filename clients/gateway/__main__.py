"""``python -m clients.gateway``: the same as ``parley gateway``."""

import sys

from clients.gateway.server import main

sys.exit(main())
