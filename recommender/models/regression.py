"""Ridge regression of every item on its candidate predictors, at any catalog size.

For item i with predictors N (its most co-occurring items), b_i = (G_NN + lambda I)^-1 G_Ni with
G = X^T X the item co-occurrence counts. The work is in gathering the G_NN blocks:
- co-occurrence among the most popular items (the "head") is computed once, as a dense matrix:
  those pairs come up in almost every neighbourhood, and their users are the most numerous;
- the rest, which involves at least one less popular item, is counted per batch from the users of
  those items only, and only between predictors of the same target;
- items are solved in batches of equal neighbourhood width (an item with 6 candidates solves a
  6 x 6 system, not a 100 x 100 one), neighbouring items together (reverse Cuthill-McKee order).
"""

from __future__ import annotations

import mmap
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import reverse_cuthill_mckee
from threadpoolctl import threadpool_limits

from recommender.forking import WORKERS, can_fork, fork_map
from recommender.models.neighbours import Neighbours

# Most popular items whose co-occurrence is kept as one dense matrix (8192^2 float32: 256 MiB).
HEAD_ITEMS = 8192
# Predictors gathered in one batch: the dense co-occurrence block is at most this square.
BLOCK_ITEMS = 2048
WIDTHS = (4, 8, 16, 32, 64, 128, 256, 512)
# From this many items the regressions are split between processes, one per core.
PARALLEL_ITEMS = 20_000


def neighbourhood_regression(
    item_users: sp.csr_matrix,
    candidates: Neighbours,
    regularization: float,
    workers: int = WORKERS,
) -> sp.csr_matrix:
    """Weights W (items x items): W[j, i] is how much having j predicts i; positive ones only.

    `item_users` is the binary item x user matrix; `candidates` the cosine top-L table computed
    from it (its scores give G_Ni without counting again). Large catalogs are solved by `workers`
    forked processes, each taking every workers-th batch, when the calling process has one thread.
    """
    n_items = item_users.shape[0]
    counts = np.diff(item_users.indptr).astype(np.float64)
    batches = list(_batches(candidates, (candidates.indices >= 0).sum(axis=1)))
    # solved[i, s]: how much candidate s of item i predicts i. Forked workers write their items'
    # rows into this shared memory, so nothing comes back through a pipe.
    solved = _shared_zeros(candidates.indices.shape)
    job = _Job(_Cooccurrence(item_users, counts), candidates, counts, regularization, batches, solved)
    if workers > 1 and n_items >= PARALLEL_ITEMS and can_fork():
        fork_map(lambda worker: _solve_share(job, worker, workers), range(workers))
    else:
        with threadpool_limits(1):  # the systems are small: BLAS threads only add overhead
            job.solve(range(len(batches)))
    # Column i of W holds item i's predictors: the table's rows are W's columns as they stand.
    keep = (solved > 0) & (candidates.indices >= 0)
    indptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1))])
    weights = sp.csc_matrix((solved[keep], candidates.indices[keep], indptr), shape=(n_items, n_items))
    return weights.tocsr()


@dataclass
class _Job:
    gram: _Cooccurrence
    candidates: Neighbours
    counts: NDArray[np.float64]
    regularization: float
    batches: list[tuple[NDArray[np.int64], int]]
    solved: NDArray[np.float32]  # (items, candidates): each target's weights, written by solve()

    def solve(self, which: Iterable[int]) -> None:
        """Solve the batches numbered `which`: their targets' rows of `solved`."""
        for index in which:
            targets, w = self.batches[index]
            predictors = self.candidates.indices[targets, :w]  # best first; -1 pads a short list
            valid = predictors >= 0
            system = self.gram.pairs(predictors, valid)  # padding slots stay 0: their weight comes out 0
            system[:, np.arange(w), np.arange(w)] += self.regularization
            # G_Ni = cos(i, j) * sqrt(count_i * count_j), from the candidate table.
            counts = self.counts
            rhs = self.candidates.scores[targets, :w] * np.sqrt(
                counts[targets][:, None] * counts[np.maximum(predictors, 0)]
            )
            self.solved[targets, :w] = np.linalg.solve(system, (rhs * valid)[:, :, None])[:, :, 0]


def _solve_share(job: _Job, worker: int, workers: int) -> None:
    with threadpool_limits(1):  # one process per core: BLAS threads on top would fight over them
        job.solve(range(worker, len(job.batches), workers))


def _shared_zeros(shape: tuple[int, int]) -> NDArray[np.float32]:
    """A float32 array of zeros in anonymous shared memory: what a forked process writes there,
    the parent sees (it is let go with the array)."""
    size = int(np.prod(shape))
    return np.frombuffer(mmap.mmap(-1, max(size, 1) * 4), np.float32, count=size).reshape(shape)


def _batches(candidates: Neighbours, width: NDArray[np.integer]):  # type: ignore[no-untyped-def]
    """(targets, padded width) groups: equal widths together, neighbours next to each other."""
    n_items, most = candidates.indices.shape
    valid = candidates.indices >= 0
    # The table's pattern as a CSR matrix made straight from its rows (no coordinate lists: at 1M
    # items they were the build's largest temporary).
    indptr = np.concatenate([[0], np.cumsum(width, dtype=np.int64)])
    linked = candidates.indices[valid]
    links = sp.csr_matrix((np.ones(len(linked), np.int8), linked, indptr), shape=(n_items, n_items))
    links.sort_indices()
    del valid
    rank = np.empty(n_items, np.int64)
    rank[reverse_cuthill_mckee((links + links.T).tocsr(), symmetric_mode=True)] = np.arange(n_items)
    padded = np.array([min(next((w for w in WIDTHS if w >= c), most), most) for c in range(most + 1)])[width]
    order = np.lexsort((rank, padded))
    order = order[width[order] > 0]  # no co-occurring item: nothing to regress on
    for w in np.unique(padded[order]):
        group = order[padded[order] == w]
        step = max(1, BLOCK_ITEMS // int(w))
        for start in range(0, len(group), step):
            yield group[start : start + step], int(w)


class _Cooccurrence:
    """Co-occurrence counts of any few items: the head from a dense matrix, the rest counted."""

    def __init__(self, item_users: sp.csr_matrix, counts: NDArray[np.floating]) -> None:
        self.item_users = item_users
        self.user_items = item_users.T.tocsr()
        self.item_counts = counts
        self.history_lengths = np.diff(self.user_items.indptr)
        head = np.argsort(-counts, kind="stable")[:HEAD_ITEMS]
        head = head[counts[head] > 0]
        self.head_pos = np.full(item_users.shape[0], -1, np.int64)
        self.head_pos[head] = np.arange(len(head))
        rows = item_users[head]
        # The head's counts, with one more row and column of zeros: where any other item points.
        self.head = np.zeros((len(head) + 1, len(head) + 1), np.float32)
        self.head[:-1, :-1] = (rows @ rows.T).toarray()
        self._slot = np.full(item_users.shape[0], -1, np.int64)  # scratch for _restricted: items
        self._user_slot = np.full(item_users.shape[1], -1, np.int64)  # and users
        self._seen = np.zeros(item_users.shape[1], bool)  # scratch for _users_of

    def pairs(self, predictors: NDArray[np.integer], valid: NDArray[np.bool_]) -> NDArray[np.float64]:
        """G[p, q] for every pair of predictors of each target: an array (targets, width, width)."""
        b, w = predictors.shape
        items = np.where(valid, predictors, 0)
        hp = self.head_pos[items]
        # Pairs of head items from the dense matrix (its last row and column, all 0, for the rest).
        at = np.where(valid & (hp >= 0), hp, len(self.head) - 1)
        out = self.head[at[:, :, None], at[:, None, :]].astype(np.float64)
        is_rest = valid & (hp < 0)
        if not is_rest.any():
            return out
        # Pairs with a non-head item, counted over the users of the non-head items only. Each
        # target's users are kept apart (user u of target t is column t * n + u), so the product
        # pairs predictors of the same target only: no count is made that no system needs.
        block = np.unique(items[valid])
        users = self._users_of(np.unique(items[is_rest]))
        slots = np.flatnonzero(valid)  # target * w + position
        per_slot = self._by_item(users, block)[np.searchsorted(block, items.ravel()[slots])]
        shift = np.repeat(slots // w * len(users), np.diff(per_slot.indptr))
        per_slot = sp.csr_matrix(
            (per_slot.data, per_slot.indices + shift, per_slot.indptr), shape=(len(slots), b * len(users))
        )
        rest_rows = np.flatnonzero(is_rest.ravel()[slots])
        shared = (per_slot[rest_rows] @ per_slot.T).tocoo()
        a, c = slots[rest_rows][shared.row], slots[shared.col]
        out.reshape(-1)[a * w + c % w] = shared.data
        # A non-head item's row is now complete; a head item's pair with it is that row's mirror.
        return np.maximum(out, out.transpose(0, 2, 1))

    def _by_item(self, users: NDArray[np.integer], block: NDArray[np.integer]) -> sp.csr_matrix:
        """block x users: 1 where the user has the item. Read from whichever is shorter: those
        users' histories (when the block holds popular items), or the block items' user lists
        (when those users have long histories: a flat popularity curve)."""
        if self.history_lengths[users].sum() <= self.item_counts[block].sum():
            return self._from_histories(users, block).T.tocsr()
        return self._from_user_lists(users, block).T

    def _users_of(self, items: NDArray[np.integer]) -> NDArray[np.intp]:
        """The users of any of `items`, sorted (marked in a scratch array: no sort, no hashing)."""
        self._seen[self.item_users[items].indices] = True
        users = np.flatnonzero(self._seen)
        self._seen[users] = False
        return users

    def _from_histories(self, users: NDArray[np.integer], block: NDArray[np.integer]) -> sp.csr_matrix:
        """users x block: 1 where the user has the item, from the users' histories."""
        return _restricted(self.user_items[users], block, self._slot)

    def _from_user_lists(self, users: NDArray[np.integer], block: NDArray[np.integer]) -> sp.csc_matrix:
        """users x block (column-major): 1 where the user has the item, from the items' user lists."""
        return _restricted(self.item_users[block], users, self._user_slot).T


def _restricted(rows: sp.csr_matrix, columns: NDArray[np.integer], slot: NDArray[np.int64]) -> sp.csr_matrix:
    """rows x columns: 1 where a row holds one of `columns` (sorted ids); `slot` is scratch, all -1."""
    slot[columns] = np.arange(len(columns))
    found = slot[rows.indices]
    slot[columns] = -1
    keep = found >= 0
    # Each row keeps its entries in their order: the row pointers are the running count kept.
    indptr = np.concatenate([[0], np.cumsum(keep)])[rows.indptr]
    return sp.csr_matrix(
        (np.ones(int(indptr[-1]), np.float32), found[keep], indptr),
        shape=(rows.shape[0], len(columns)),
    )
