"""Top-K neighbour tables: each item's most similar items, computed once, looked up per request."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sparse_dot_topn import sp_matmul_topn

# Rows of `left` multiplied in one call: bounds memory and paces progress reports.
CHUNK_ROWS = 50_000
THREADS = os.cpu_count() or 1


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
    left: sp.csr_matrix,
    right: sp.csr_matrix,
    k: int,
    exclude_self: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Neighbours:
    """For each row of `left`, the k rows of `right` with the largest positive dot product.

    sparse_dot_topn multiplies on every core and keeps only the best of each row as it goes, so
    memory stays at rows x k whatever the catalog size. `progress(done, total)` follows the rows.
    """
    n, m = left.shape[0], right.shape[0]
    k = max(0, min(k, m - (1 if exclude_self else 0)))
    indices = np.full((n, k), -1, dtype=np.int32)
    scores = np.zeros((n, k), dtype=np.float32)
    if k == 0 or left.nnz == 0 or right.nnz == 0:
        return Neighbours(indices, scores)
    right_t = right.T.tocsr().astype(np.float32)
    left = left.tocsr().astype(np.float32)
    for start in range(0, n, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n)
        block = sp_matmul_topn(
            left[start:stop], right_t, top_n=k + exclude_self, threshold=0.0, n_threads=THREADS
        )
        rows, cols, data = _entries(block)
        keep = data > 0
        if exclude_self:
            keep &= cols != rows + start
        rows, cols, data, rank = _ranked(rows[keep], cols[keep], data[keep], stop - start)
        top = rank < k
        indices[rows[top] + start, rank[top]] = cols[top]
        scores[rows[top] + start, rank[top]] = data[top]
        if progress is not None:
            progress(stop, n)
    return Neighbours(indices, scores)


def top_per_row(matrix: sp.csr_matrix, limit: int) -> sp.csr_matrix:
    """The same matrix with only the `limit` largest entries of each row."""
    matrix = matrix.tocsr()
    if np.diff(matrix.indptr).max(initial=0) <= limit:
        return matrix
    rows, cols, data, rank = _ranked(*_entries(matrix), matrix.shape[0])
    top = rank < limit
    return sp.csr_matrix((data[top], (rows[top], cols[top])), shape=matrix.shape)


def _entries(matrix: sp.csr_matrix) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.float32]]:
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    return rows, matrix.indices, matrix.data


def _ranked(rows, cols, data, n_rows):  # type: ignore[no-untyped-def]
    """Entries sorted by row, then score descending (ties: lower column first), and each one's rank."""
    order = np.lexsort((cols, -data, rows))
    rows, cols, data = rows[order], cols[order], data[order]
    counts = np.bincount(rows, minlength=n_rows)
    rank = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    return rows, cols, data, rank


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
