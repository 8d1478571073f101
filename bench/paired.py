"""How far a WER difference between two ways of producing the same speech could move by chance."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tests.speech import wer


def wer_difference_interval(
    references: Sequence[str], first: Sequence[str], second: Sequence[str], draws: int = 2000
) -> tuple[float, float]:
    """90% interval of corpus WER of ``first`` minus that of ``second`` (hypotheses of the same
    ``references``), by a paired bootstrap over the sentences: the spread the difference would
    show with other sentences alike."""
    words = np.array([len(r.split()) for r in references], float)
    errors = (
        np.array(
            [[wer(r, a), wer(r, b)] for r, a, b in zip(references, first, second, strict=True)]
        )
        * words[:, None]
    )
    picks = np.random.default_rng(0).integers(0, len(references), (draws, len(references)))
    diffs = (errors[picks, 0] - errors[picks, 1]).sum(axis=1) / words[picks].sum(axis=1)
    low, high = np.percentile(diffs, [5, 95])
    return float(low), float(high)
