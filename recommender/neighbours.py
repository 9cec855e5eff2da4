"""Top-K neighbour tables: each item's most similar items, computed once, looked up per request."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

# How many similarity entries one chunk of rows may hold before it is reduced to its top K.
CHUNK_BUDGET = 20_000_000


@dataclass(frozen=True)
class Neighbours:
    """Row i lists item i's neighbours, best first; unused slots hold index -1 and score 0."""

    indices: NDArray[np.int32]
    scores: NDArray[np.float32]

    def of(self, item: int) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """Neighbours of one item and their scores, best first."""
        row = self.indices[item]
        valid = row >= 0
        return row[valid], self.scores[item][valid]

    @property
    def k(self) -> int:
        return self.indices.shape[1]


def top_k_neighbours(
    left: sp.csr_matrix, right: sp.csr_matrix, k: int, exclude_self: bool = True
) -> Neighbours:
    """For each row of `left`, the k rows of `right` with the largest positive dot product.

    Works through `left` in chunks so that memory stays bounded whatever the catalog size.
    """
    n, m = left.shape[0], right.shape[0]
    k = max(0, min(k, m - (1 if exclude_self else 0)))
    indices = np.full((n, k), -1, dtype=np.int32)
    scores = np.zeros((n, k), dtype=np.float32)
    if k == 0:
        return Neighbours(indices, scores)
    right_t = right.T.tocsc().astype(np.float32)
    left = left.tocsr().astype(np.float32)
    step = int(max(16, min(4096, CHUNK_BUDGET // max(m, 1))))
    for start in range(0, n, step):
        stop = min(start + step, n)
        block = (left[start:stop] @ right_t).tocsr()
        rows = np.repeat(np.arange(stop - start), np.diff(block.indptr))
        cols, data = block.indices, block.data
        keep = data > 0
        if exclude_self:
            keep &= cols != rows + start
        rows, cols, data = rows[keep], cols[keep], data[keep]
        # Sort by row, then by score descending (ties: lower column first, so results are stable).
        order = np.lexsort((cols, -data, rows))
        rows, cols, data = rows[order], cols[order], data[order]
        counts = np.bincount(rows, minlength=stop - start)
        rank = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
        top = rank < k
        indices[rows[top] + start, rank[top]] = cols[top]
        scores[rows[top] + start, rank[top]] = data[top]
    return Neighbours(indices, scores)


def gather(
    neighbours: Neighbours, items: NDArray[np.integer], weights: NDArray[np.floating]
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """Sum the weighted neighbour lists of `items`: each candidate once, with its total score."""
    idx = neighbours.indices[items].ravel()
    sc = (neighbours.scores[items] * np.asarray(weights, dtype=np.float32)[:, None]).ravel()
    valid = idx >= 0
    return merge(idx[valid], sc[valid])


def merge(
    items: NDArray[np.integer], scores: NDArray[np.floating]
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """Add up the scores of repeated items."""
    unique, inverse = np.unique(items, return_inverse=True)
    return unique.astype(np.int32), np.bincount(inverse, weights=scores).astype(np.float32)


def top_n(
    items: NDArray[np.integer],
    scores: NDArray[np.floating],
    n: int,
    exclude: NDArray[np.integer] | None = None,
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """The n best (item, score) pairs, best first, leaving out `exclude`; ties go to the lower item."""
    items = np.asarray(items, dtype=np.int32)
    scores = np.asarray(scores, dtype=np.float32)
    if exclude is not None and len(exclude):
        keep = ~np.isin(items, exclude)
        items, scores = items[keep], scores[keep]
    if len(items) > n:
        # Keep every item tied with the n-th best so the final order does not depend on partitioning.
        cut = np.partition(scores, len(scores) - n)[len(scores) - n]
        keep = scores >= cut
        items, scores = items[keep], scores[keep]
    order = np.lexsort((items, -scores))[:n]
    return items[order], scores[order]
