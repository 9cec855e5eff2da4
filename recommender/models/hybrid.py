"""Blend several scored candidate lists into one ranking."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from recommender.models.merging import top_of_sum
from recommender.models.neighbours import Neighbours, best_of_rows, entries, not_owned, place, ranked

Scored = tuple[NDArray[np.int32], NDArray[np.float32]]


def blend(
    parts: Sequence[tuple[float | NDArray[np.floating], Scored]],
    n: int,
    exclude: NDArray[np.integer] | None = None,
    size: int | None = None,
) -> Scored:
    """Weighted sum of the lists after scaling each to [0, 1] by its best score; the n best.

    Scaling first makes the weights mean what they say: cosine similarities (at most 1) and
    summed collaborative scores (often far above 1) would otherwise not be comparable. Each list
    is best first, so its best score is its first. A weight may be one number for the whole list
    or one per item. `size`, when known, is one more than the largest item any list or `exclude`
    may hold (the catalog's size).
    """
    items, scores = [], []
    for weight, (part_items, part_scores) in parts:
        top = float(part_scores[0]) if len(part_scores) else 0.0
        if top > 0:
            items.append(part_items)
            # Python floats: a float32 array times one stays float32, without numpy scalar work.
            factor = (weight / top).astype(np.float32) if isinstance(weight, np.ndarray) else weight / top
            scores.append(part_scores * factor)
    if not items:
        return np.empty(0, np.int32), np.empty(0, np.float32)
    return top_of_sum(np.concatenate(items), np.concatenate(scores), n, len(items), exclude, size)


def blend_rows(
    parts: Sequence[tuple[float | NDArray[np.floating], NDArray[np.int32], NDArray[np.floating]]],
    n: int,
    exclude: sp.csr_matrix,
) -> Neighbours:
    """blend() for many rows at once: row r of the result is blend() of row r of every part.

    Each part is (weights, indices, scores): indices and scores of one shape (rows x width), -1 in
    unused slots, and weights one number or an array of that shape; `exclude` holds each row's
    items to leave out (a rows x items matrix).
    """
    n_rows, n_items = exclude.shape
    # scipy adds rows whose columns are unsorted in one pass over their entries, each sum made in
    # the parts' order (as blend() adds them up); zero sums are dropped.
    matrices = [_scaled(*part, n_items) for part in parts]
    total = sum(matrices[1:], matrices[0])
    rows, cols, data = entries(total)  # row then column order, as best_of_rows() takes them
    keep = data > 0
    rows, cols, data = rows[keep], cols[keep], data[keep]
    keep = not_owned(rows, cols, exclude)
    table = Neighbours(np.full((n_rows, n), -1, np.int32), np.zeros((n_rows, n), np.float32))
    place(table, *ranked(*best_of_rows(rows[keep], cols[keep], data[keep], n_rows, n), n_rows))
    return table


def _scaled(
    weights: float | NDArray[np.floating],
    indices: NDArray[np.int32],
    scores: NDArray[np.floating],
    n_items: int,
) -> sp.csr_matrix:
    """One part of blend_rows() as a rows x (n_items + 1) matrix, each row scaled as blend() scales
    a list; unused slots go to the extra column n_items with score 0."""
    n_rows, width = indices.shape
    top = scores.max(axis=1, initial=0.0).astype(np.float32)
    factor = np.asarray(weights, np.float32) / np.where(top > 0, top, 1)[:, None]
    unused = (indices < 0) | (top <= 0)[:, None]
    return sp.csr_matrix(
        (
            np.where(unused, 0, scores.astype(np.float32) * factor).ravel(),
            np.where(unused, n_items, indices).ravel(),
            np.arange(0, n_rows * width + 1, width),
        ),
        shape=(n_rows, n_items + 1),
    )
