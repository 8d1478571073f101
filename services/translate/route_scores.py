"""Measured quality of routes: chrF per pair and route on the project's conversation set.

``route_scores.json`` beside this module is written by ``python -m bench.quality`` and read by
the router, which prefers a pair's best-scored route. A route is named by its summary
(``en>es (apertium) > es>pt (apertium)``), so scores of engines that are not running here are
simply not matched.
"""

from __future__ import annotations

import json
from pathlib import Path

from parley.logs import get_logger
from services.translate.languages import Pair

log = get_logger(__name__)

SCORES_FILE = Path(__file__).with_name("route_scores.json")

Scores = dict[Pair, dict[str, float]]


def load(path: Path = SCORES_FILE) -> Scores:
    """The scores in ``path``; none (and a warning) if it is missing or unreadable."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        scores: Scores = {}
        for pair, routes in raw.items():
            source, target = pair.split(">")
            scores[(source, target)] = {str(route): float(chrf) for route, chrf in routes.items()}
    except (OSError, ValueError, AttributeError) as exc:
        log.warning(
            "no route scores: routes follow engine preference", path=str(path), error=str(exc)
        )
        return {}
    return scores
