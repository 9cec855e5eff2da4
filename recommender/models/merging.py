"""Scored lists merged at request time: neighbour lists summed, repeats added up, the best n kept.

Each call works in time proportional to the candidates it is given, not to the catalog's size:
a thread's zeroed scratch array (_scratch) stands in for sorting and for catalog-sized arrays.
"""

from __future__ import annotations

import threading
from typing import Protocol

import numpy as np
from numpy.typing import NDArray


class Table(Protocol):
    """A neighbour table (neighbours.Neighbours): row i holds item i's neighbours and their scores."""

    indices: NDArray[np.int32]
    scores: NDArray[np.float32]


def gather(
    neighbours: Table,
    items: NDArray[np.integer],
    weights: NDArray[np.floating],
    exclude: NDArray[np.integer] | None = None,
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """Sum the weighted neighbour lists of `items`: each candidate once, with its total score,
    none of `exclude`."""
    idx = neighbours.indices[items]
    sc = neighbours.scores[items] * np.asarray(weights, dtype=np.float32)[:, None]
    if idx.size and (idx[:, -1] < 0).any():  # a row padded at its end (-1): keep the items
        valid = idx >= 0
        idx, sc = idx[valid], sc[valid]
    return merge(idx.ravel(), sc.ravel(), size=len(neighbours.indices), exclude=exclude)  # rows: items


def merge(
    items: NDArray[np.integer],
    scores: NDArray[np.floating],
    size: int | None = None,
    exclude: NDArray[np.integer] | None = None,
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """Add up the scores of repeated items: each item once, with its total, none of `exclude`.
    `size`, when known, is more than any item and any of `exclude` (saves looking for the largest)."""
    items = np.asarray(items, dtype=np.int32)
    if len(items) == 0:
        return items, np.asarray(scores, dtype=np.float32)
    excluding = exclude is not None and len(exclude) > 0
    if size is None:
        largest = int(exclude.max()) if excluding else 0  # type: ignore[union-attr]
        size = max(int(items.max()), largest) + 1
    sums = _scratch(size)
    rows = items.astype(np.intp)  # numpy's index type, converted once
    np.add.at(sums, rows, scores)
    totals = sums[rows]
    # Keep one entry per item (its last), without sorting: each item's place in the same array
    # (read as int32, whose 0 is the float 0) remembers a position, and is zeroed after. An
    # excluded item's place holds -1, which no position is.
    marks, positions = sums.view(np.int32), np.arange(len(items), dtype=np.int32)
    marks[rows] = positions
    if excluding:
        marks[exclude] = -1
    last = marks[rows] == positions
    marks[rows] = 0
    if excluding:
        marks[exclude] = 0
    return items[last], totals[last]


def without(items: NDArray[np.int32], exclude: NDArray[np.integer]) -> NDArray[np.bool_]:
    """A mask of the items not in `exclude`."""
    marks = _scratch(int(max(items.max(initial=0), exclude.max(initial=0))) + 1).view(np.int32)
    marks[exclude] = 1
    keep = marks[items] == 0
    marks[exclude] = 0
    return keep


_local = threading.local()


def _scratch(size: int) -> NDArray[np.float32]:
    """This thread's zeroed work array, at least `size` long (it is left zeroed after use).

    It lets a request add up, deduplicate and leave out a few thousand candidates in time
    proportional to their number, not to the catalog's size and without sorting. One array for
    all three: the places a request touches stay in the processor's caches from one step to the
    next (at 1M products the array is 4 MB).
    """
    sums = getattr(_local, "sums", None)
    if sums is None or len(sums) < size:
        sums = _local.sums = np.zeros(1 << max(size - 1, 1).bit_length(), np.float32)
    return sums


def top_n(
    items: NDArray[np.integer],
    scores: NDArray[np.floating],
    n: int,
    exclude: NDArray[np.integer] | None = None,
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """The n best (item, score) pairs, best first, leaving out `exclude`; ties go to the lower item."""
    items = np.asarray(items, dtype=np.int32)
    scores = np.asarray(scores, dtype=np.float32)
    if exclude is not None and len(exclude) and len(items):
        keep = without(items, np.asarray(exclude))
        items, scores = items[keep], scores[keep]
    if len(items) > n:
        # Keep every item tied with the n-th best so the final order does not depend on partitioning.
        cut = np.partition(scores, len(scores) - n)[len(scores) - n]
        keep = scores >= cut
        items, scores = items[keep], scores[keep]
    order = np.lexsort((items, -scores))[:n]
    return items[order], scores[order]
