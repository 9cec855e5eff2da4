"""Blend several scored candidate lists into one ranking."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from recommender.neighbours import top_of_sum

Scored = tuple[NDArray[np.int32], NDArray[np.float32]]


def blend(
    parts: Sequence[tuple[float | NDArray[np.floating], Scored]],
    n: int,
    exclude: NDArray[np.integer] | None = None,
) -> Scored:
    """Weighted sum of the lists after scaling each to [0, 1] by its best score; the n best.

    Scaling first makes the weights mean what they say: cosine similarities (at most 1) and
    summed collaborative scores (often far above 1) would otherwise not be comparable. A weight
    may be one number for the whole list or one per item.
    """
    items, scores = [], []
    for weight, (part_items, part_scores) in parts:
        top = float(part_scores.max(initial=0.0))
        if top > 0:
            items.append(part_items)
            scores.append(part_scores * (np.asarray(weight, dtype=np.float32) / np.float32(top)))
    if not items:
        return np.empty(0, np.int32), np.empty(0, np.float32)
    return top_of_sum(np.concatenate(items), np.concatenate(scores), n, len(items), exclude)
