"""Blend several scored candidate lists into one ranking."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from recommender.neighbours import merge, top_n

Scored = tuple[NDArray[np.int32], NDArray[np.float32]]


def blend(
    parts: Sequence[tuple[float, Scored]], n: int, exclude: NDArray[np.integer] | None = None
) -> Scored:
    """Weighted sum of the lists after scaling each to [0, 1] by its best score; the n best.

    Scaling first makes the weights mean what they say: cosine similarities (at most 1) and
    summed collaborative scores (often far above 1) would otherwise not be comparable.
    """
    items, scores = [], []
    for weight, (part_items, part_scores) in parts:
        top = float(part_scores.max(initial=0.0))
        if weight <= 0 or top <= 0:
            continue
        items.append(part_items)
        scores.append(part_scores * np.float32(weight / top))
    if not items:
        return np.empty(0, np.int32), np.empty(0, np.float32)
    merged_items, merged_scores = merge(np.concatenate(items), np.concatenate(scores))
    return top_n(merged_items, merged_scores, n, exclude=exclude)
