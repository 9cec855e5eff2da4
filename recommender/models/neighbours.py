"""Top-K neighbour tables: each item's most similar items, computed once, looked up per request."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from sparse_dot_topn import sp_matmul_topn, unchecked

from recommender.memory import release_freed
from recommender.models.merging import gather, top_n

# Rows of `left` multiplied in one call: bounds memory and paces progress reports.
CHUNK_ROWS = 50_000
# Users whose lists are made at once (list_chunks()): a few hundred MB of work arrays at most,
# and faster than larger chunks, whose sorts leave the processor's caches.
LIST_ROWS = 5_000
THREADS = os.cpu_count() or 1
# From this many entries, not_owned() looks them up in a hash table rather than by binary search.
HASHED_KEYS = 4096


@dataclass(frozen=True)
class Neighbours:
    """Row i lists item i's neighbours, best first; unused slots hold index -1 and score 0."""

    indices: NDArray[np.int32]
    scores: NDArray[np.float32]

    def of(self, item: int) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """Neighbours of one item and their scores, best first."""
        row = self.indices[item]
        if row.size == 0 or row[-1] >= 0:  # a full row: no padding to drop
            return row, self.scores[item]
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
    table = Neighbours(np.full((n, k), -1, dtype=np.int32), np.zeros((n, k), dtype=np.float32))
    if k == 0 or left.nnz == 0 or right.nnz == 0:
        return table
    right_t = right.T.tocsr().astype(np.float32, copy=False)
    left = left.tocsr().astype(np.float32, copy=False)  # no copy of a float32 matrix
    for start in range(0, n, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n)
        block = matmul_topn(left[start:stop], right_t, k + exclude_self)
        rows, cols, data = entries(block)
        keep = data > 0
        if exclude_self:
            keep &= cols != rows + start
        place(table, *ranked(rows[keep], cols[keep], data[keep], stop - start), start)
        if progress is not None:
            progress(stop, n)
    return table


def matmul_topn(left: sp.csr_matrix, right: sp.csr_matrix, top_n: int, sort: bool = False) -> sp.csr_matrix:
    """Each row's top_n positive entries of left @ right, on every core (sparse_dot_topn).

    Callers multiply chunk after chunk of rows by one large `right`. The library's checked call
    copies `right`'s indices on every call (400 MB for a table of 1M items x 100), so matrices
    already in the form its core takes (CSR, float32, 32-bit indices) go to its unchecked call.
    """
    if not (
        sp.isspmatrix_csr(left)
        and sp.isspmatrix_csr(right)
        and left.dtype == right.dtype == np.float32
        and all(a.dtype == np.int32 for a in (left.indices, left.indptr, right.indices, right.indptr))
    ):
        return sp_matmul_topn(left, right, top_n, threshold=0.0, sort=sort, n_threads=THREADS)
    if left.nnz == 0 or right.nnz == 0:
        return sp.csr_matrix((left.shape[0], right.shape[1]), dtype=np.float32)
    top_n = min(top_n, right.shape[1])
    if THREADS > 1:
        return unchecked.sp_matmul_topn_mt(left, right, top_n, sort, threshold=0.0, n_threads=THREADS)
    return unchecked.sp_matmul_topn(left, right, top_n, sort, threshold=0.0, density=1.0)


def top_per_row(matrix: sp.csr_matrix, limit: int) -> sp.csr_matrix:
    """The same matrix with only the `limit` largest entries of each row (ties: the lower column).

    Only the rows longer than that are sorted, one at a time: no temporary as large as the matrix.
    """
    matrix = matrix.tocsr()
    lengths = np.diff(matrix.indptr)
    if lengths.max(initial=0) <= limit:
        return matrix
    matrix.sort_indices()  # each row's columns in order: a stable sort by score keeps it for ties
    keep = np.ones(matrix.nnz, bool)
    for row in np.flatnonzero(lengths > limit):
        lo, hi = matrix.indptr[row], matrix.indptr[row + 1]
        keep[lo:hi] = False
        keep[lo + np.argsort(-matrix.data[lo:hi], kind="stable")[:limit]] = True
    indptr = np.concatenate([[0], np.cumsum(keep)])[matrix.indptr]
    return sp.csr_matrix((matrix.data[keep], matrix.indices[keep], indptr), shape=matrix.shape)


def entries(matrix: sp.csr_matrix) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.float32]]:
    """(row, column, value) of every stored entry, in row then column order (sorts the indices in place)."""
    matrix.sort_indices()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    return rows, matrix.indices, matrix.data


def ranked(rows, cols, data, n_rows):  # type: ignore[no-untyped-def]
    """Entries sorted by row, then score descending (ties: lower column first), and each one's rank.

    The entries come in row then column order (as entries() gives them), so one stable sort on a
    64-bit key (the row, then the score's bits turned to sort descending) keeps ties by column.
    """
    bits = np.asarray(data, np.float32).view(np.uint32)
    ascending = np.where(bits >> 31, ~bits, bits | np.uint32(0x80000000))  # orders like the value
    key = (rows.astype(np.int64) << 32) | (np.uint32(0xFFFFFFFF) - ascending).astype(np.int64)
    order = np.argsort(key, kind="stable")
    rows, cols, data = rows[order], cols[order], data[order]
    return rows, cols, data, _positions(np.bincount(rows, minlength=n_rows))


def best_of_rows(rows, cols, data, n_rows, n, block_rows=8192):  # type: ignore[no-untyped-def]
    """The entries among which ranked() would find each row's n first: the n highest scores of
    each row, ties to the lower column. Entries come, and stay, in row then column order, with
    positive scores. Rows are laid out dense (block_rows at a time) and split at their n-th score."""
    if len(rows) == 0 or np.bincount(rows).max() <= n:
        return rows, cols, data
    starts = np.searchsorted(rows, np.arange(0, n_rows + block_rows, block_rows))
    kept = []
    for first, (lo, hi) in enumerate(zip(starts[:-1], starts[1:], strict=True)):
        if lo == hi:
            continue
        r = rows[lo:hi] - first * block_rows
        counts = np.bincount(r)
        slot = _positions(counts)
        dense = np.zeros((len(counts), max(int(counts.max()), n)), np.float32)  # 0: no entry
        dense[r, slot] = data[lo:hi]
        nth = -np.partition(-dense, n - 1, axis=1)[:, n - 1 : n]
        above, tied = dense > nth, (dense == nth) & (dense > 0)
        # Of the entries tied with the n-th score, those with the lowest columns fill the row.
        take = above | (tied & (np.cumsum(tied, axis=1) <= n - above.sum(axis=1, keepdims=True)))
        kept.append(lo + np.flatnonzero(take[r, slot]))
    keep = np.concatenate(kept)
    return rows[keep], cols[keep], data[keep]


def ranked_presorted(rows, cols, data, n_rows):  # type: ignore[no-untyped-def]
    """ranked() for entries already in row then score-descending order (as sp_matmul_topn(sort=True)
    gives them): no sort, only runs of equal scores are put in column order."""
    same = (rows[1:] == rows[:-1]) & (data[1:] == data[:-1])
    if same.any():
        tied = np.zeros(len(rows), bool)
        tied[1:] = same
        tied[:-1] |= same
        at = np.flatnonzero(tied)
        run = np.cumsum(np.concatenate([[True], ~same]))[at]  # which run of equal scores
        cols = cols.copy()
        cols[at] = cols[at][np.lexsort((cols[at], run))]
    return rows, cols, data, _positions(np.bincount(rows, minlength=n_rows))


def _positions(counts: NDArray[np.integer]) -> NDArray[np.int64]:
    """Each entry's place in its row (0 first), for entries grouped by row, counts[r] in row r."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def place(table: Neighbours, rows, cols, data, rank, offset: int = 0) -> None:  # type: ignore[no-untyped-def]
    """Write ranked entries (as ranked() gives them) into the table's rows from `offset` on;
    entries ranked beyond the table's width are left out."""
    top = rank < table.k
    table.indices[rows[top] + offset, rank[top]] = cols[top]
    table.scores[rows[top] + offset, rank[top]] = data[top]


def best_of(a: Neighbours, b: Neighbours, k: int) -> Neighbours:
    """Each row's k best entries of two tables over the same rows (ties: the lower index first)."""
    n = a.indices.shape[0]
    table = Neighbours(np.full((n, k), -1, np.int32), np.zeros((n, k), np.float32))
    for start in range(0, n, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n)
        indices = np.hstack([a.indices[start:stop], b.indices[start:stop]])
        scores = np.hstack([a.scores[start:stop], b.scores[start:stop]])
        rows, slots = np.nonzero(indices >= 0)
        cols, data = indices[rows, slots], scores[rows, slots]
        order = np.lexsort((cols, rows))  # row then column order, as ranked() wants it
        place(table, *ranked(rows[order], cols[order], data[order], stop - start), start)
    return table


def not_owned(rows: NDArray[np.int64], cols: NDArray[np.int32], owned: sp.csr_matrix) -> NDArray[np.bool_]:
    """A mask of the entries (row, col) that are not stored in `owned` (rows x items).

    Each entry is a key (row x items + col) looked up among the owned ones: a few by binary search
    in the sorted owned keys, many in a hash table of them (about ten times faster for a chunk of
    thousands of users, whose binary searches miss the caches).
    """
    owned = owned.tocsr()
    n_items = owned.shape[1]
    keys = np.asarray(rows, np.int64) * n_items + cols
    own_rows = np.repeat(np.arange(owned.shape[0], dtype=np.int64), np.diff(owned.indptr))
    own_keys = own_rows * n_items + owned.indices
    if len(own_keys) == 0:
        return np.ones(len(keys), dtype=bool)
    if len(keys) >= HASHED_KEYS:
        return ~pd.Series(keys, copy=False).isin(own_keys).to_numpy()
    own_keys.sort()
    found = np.minimum(np.searchsorted(own_keys, keys), len(own_keys) - 1)
    return own_keys[found] != keys


@dataclass(frozen=True)
class UserLists:
    """Each user's best items by one model, computed at build time (never items the user has)."""

    table: Neighbours

    def of(self, row: int, n: int) -> tuple[NDArray[np.int32], NDArray[np.float32]] | None:
        """The user's best n items and scores, or None when n is more than was kept."""
        if n > self.table.k:
            return None
        items, scores = self.table.of(row)
        return items[:n], scores[:n]


def as_matrix(table: Neighbours) -> sp.csr_matrix:
    """The table as a sparse items x items matrix of scores (read only: when every row is full, it
    holds the table's own arrays, not a copy)."""
    n, k = table.indices.shape
    if k and n * k < 2**31 and table.indices.min() >= 0:
        indptr = np.arange(0, n * k + 1, k, dtype=np.int32)
        parts = (table.scores.reshape(-1), table.indices.reshape(-1), indptr)
        return sp.csr_matrix(parts, shape=(n, n), copy=False)
    valid = table.indices >= 0
    indptr = np.concatenate([[0], np.cumsum(valid.sum(axis=1))])
    return sp.csr_matrix((table.scores[valid], table.indices[valid], indptr), shape=(n, n))


def user_lists(history: sp.csr_matrix, table: Neighbours, k: int, spare: int = 64) -> UserLists:
    """For every user (row of `history`), the k best items by summing the neighbour lists of their items.

    The same sum as gather() at request time, for all users at once (see list_chunks()).
    """
    n_users = history.shape[0]
    k = min(k, table.indices.shape[0])
    lists = Neighbours(np.full((n_users, k), -1, dtype=np.int32), np.zeros((n_users, k), dtype=np.float32))
    for rows, chunk in list_chunks(history, table, k, spare):
        lists.indices[rows], lists.scores[rows] = chunk.indices, chunk.scores
    return UserLists(lists)


def empty_lists(n_users: int) -> UserLists:
    """Lists that hold nothing: every user's list is then summed at request time (UserLists.of)."""
    return UserLists(Neighbours(np.empty((n_users, 0), np.int32), np.empty((n_users, 0), np.float32)))


def list_chunks(
    history: sp.csr_matrix, table: Neighbours, k: int, spare: int = 64
) -> Iterator[tuple[slice, Neighbours]]:
    """user_lists() a chunk of LIST_ROWS users at a time: the rows, and their lists.

    A sparse product keeps the best k + spare per user, less the items the user has. The few
    users whose own items crowded those k + spare out of their k best are summed one by one, as
    at request time.
    """
    n_users = history.shape[0]
    k = min(k, table.indices.shape[0])
    matrix = as_matrix(table)
    history = history.tocsr().astype(np.float32, copy=False)
    for start in range(0, n_users, LIST_ROWS):
        stop = min(start + LIST_ROWS, n_users)
        lists = Neighbours(np.full((stop - start, k), -1, np.int32), np.zeros((stop - start, k), np.float32))
        if k == 0 or matrix.nnz == 0 or history.nnz == 0:
            yield slice(start, stop), lists
            continue
        own = history[start:stop]
        block = matmul_topn(own, matrix, k + spare, sort=True)
        rows = np.repeat(np.arange(stop - start), np.diff(block.indptr))  # best first in each row
        cols, data = block.indices, block.data
        found = np.bincount(rows, minlength=stop - start)
        keep = not_owned(rows, cols, own)
        rows, cols, data, rank = ranked_presorted(rows[keep], cols[keep], data[keep], stop - start)
        place(lists, rows, cols, data, rank)
        # A list is short of its true top k only if the product was cut and the user's items filled it.
        kept = np.bincount(rows, minlength=stop - start)
        for row in np.nonzero((found >= k + spare) & (kept < k))[0]:
            span = slice(history.indptr[start + row], history.indptr[start + row + 1])
            owned = history.indices[span]
            best, best_scores = top_n(*gather(table, owned, history.data[span], exclude=owned), k)
            lists.indices[row], lists.scores[row] = -1, 0.0
            lists.indices[row, : len(best)], lists.scores[row, : len(best)] = best, best_scores
        del own, block, rows, cols, data, found, keep, rank, kept
        yield slice(start, stop), lists
        release_freed()  # the chunk's work arrays: else the allocator's free space grows chunk by chunk
