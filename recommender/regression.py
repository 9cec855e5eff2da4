"""Ridge regression of every item on its candidate predictors, at any catalog size.

For item i with predictors N (its most co-occurring items), b_i = (G_NN + lambda I)^-1 G_Ni with
G = X^T X the item co-occurrence counts. The work is in gathering the G_NN blocks:
- co-occurrence among the most popular items (the "head") is computed once, as a dense matrix:
  those pairs come up in almost every neighbourhood, and their users are the most numerous;
- the rest, which involves at least one less popular item, is counted per batch from the users of
  those items only;
- items are solved in batches of equal neighbourhood width (an item with 6 candidates solves a
  6 x 6 system, not a 100 x 100 one), neighbouring items together (reverse Cuthill-McKee order).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import reverse_cuthill_mckee

from recommender.neighbours import Neighbours

# Most popular items whose co-occurrence is kept as one dense matrix (8192^2 float32: 256 MiB).
HEAD_ITEMS = 8192
# Predictors gathered in one batch: the dense co-occurrence block is at most this square.
BLOCK_ITEMS = 2048
WIDTHS = (4, 8, 16, 32, 64, 128, 256, 512)


def neighbourhood_regression(
    item_users: sp.csr_matrix,
    candidates: Neighbours,
    regularization: float,
    progress: Callable[[int, int], None] | None = None,
) -> sp.csr_matrix:
    """Weights W (items x items): W[j, i] is how much having j predicts i; positive ones only.

    `item_users` is the binary item x user matrix; `candidates` the cosine top-L table computed
    from it (its scores give G_Ni without counting again).
    """
    n_items = item_users.shape[0]
    counts = np.diff(item_users.indptr).astype(np.float64)
    gram = _Cooccurrence(item_users, counts)
    width = (candidates.indices >= 0).sum(axis=1)
    rows, cols, vals = [], [], []
    done = 0
    for targets, w in _batches(candidates, width):
        predictors = candidates.indices[targets, :w]  # best first; -1 pads a short list
        valid = predictors >= 0
        system = gram.pairs(predictors, valid)  # padding slots stay 0: their weight comes out 0
        system[:, np.arange(w), np.arange(w)] += regularization
        # G_Ni = cos(i, j) * sqrt(count_i * count_j), from the candidate table.
        rhs = candidates.scores[targets, :w] * np.sqrt(
            counts[targets][:, None] * counts[np.maximum(predictors, 0)]
        )
        solved = np.linalg.solve(system, (rhs * valid)[:, :, None])[:, :, 0]
        keep = valid & (solved > 0)
        rows.append(predictors[keep])
        cols.append(np.broadcast_to(targets[:, None], predictors.shape)[keep])
        vals.append(solved[keep].astype(np.float32))
        done += len(targets)
        if progress is not None:
            progress(done, n_items)
    if not rows:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_items, n_items)
    )


def _batches(candidates: Neighbours, width: NDArray[np.integer]):  # type: ignore[no-untyped-def]
    """(targets, padded width) groups: equal widths together, neighbours next to each other."""
    n_items, most = candidates.indices.shape
    valid = candidates.indices >= 0
    links = sp.csr_matrix(
        (np.ones(int(valid.sum()), np.int8), (np.nonzero(valid)[0], candidates.indices[valid])),
        shape=(n_items, n_items),
    )
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
        head = np.argsort(-counts, kind="stable")[:HEAD_ITEMS]
        head = head[counts[head] > 0]
        self.head_pos = np.full(item_users.shape[0], -1, np.int64)
        self.head_pos[head] = np.arange(len(head))
        rows = item_users[head]
        self.head = (rows @ rows.T).toarray().astype(np.float32)
        self._slot = np.full(item_users.shape[0], -1, np.int64)  # item -> column in _counts

    def pairs(self, predictors: NDArray[np.integer], valid: NDArray[np.bool_]) -> NDArray[np.float64]:
        """G[p, q] for every pair of predictors of each target: an array (targets, width, width)."""
        b, w = predictors.shape
        out = np.zeros((b, w, w), np.float64)
        items = np.where(valid, predictors, 0)
        hp = self.head_pos[items]
        head_a, head_c = (hp >= 0)[:, :, None], (hp >= 0)[:, None, :]
        both = head_a & head_c & valid[:, :, None] & valid[:, None, :]
        index_a = np.broadcast_to(hp[:, :, None], out.shape)[both]
        index_c = np.broadcast_to(hp[:, None, :], out.shape)[both]
        out[both] = self.head[index_a, index_c]
        rest = np.unique(items[valid & (hp < 0)])
        if len(rest) == 0:
            return out
        # Pairs with a non-head item: count over the users of the non-head items only.
        block = np.unique(items[valid])
        counts = self._counts(rest, block)  # (rest, block)
        row = np.full(len(block), -1, np.int64)
        row[np.searchsorted(block, rest)] = np.arange(len(rest))
        pos = np.searchsorted(block, items)
        row_a, row_c = row[pos][:, :, None], row[pos][:, None, :]
        pos_a = np.broadcast_to(pos[:, :, None], out.shape)
        pos_c = np.broadcast_to(pos[:, None, :], out.shape)
        pair_valid = valid[:, :, None] & valid[:, None, :]
        from_a = pair_valid & (row_a >= 0)  # a is a non-head item: its row holds the pair
        out[from_a] = counts[np.broadcast_to(row_a, out.shape)[from_a], pos_c[from_a]]
        from_c = pair_valid & (row_a < 0) & (row_c >= 0)
        out[from_c] = counts[np.broadcast_to(row_c, out.shape)[from_c], pos_a[from_c]]
        return out

    def _counts(self, rest: NDArray[np.integer], block: NDArray[np.integer]) -> NDArray[np.float32]:
        """Dense co-occurrence counts of the items `rest` with the items `block` (both sorted)."""
        users = np.unique(self.item_users[rest].indices)
        histories = self.user_items[users]
        self._slot[block] = np.arange(len(block))
        slots = self._slot[histories.indices]
        self._slot[block] = -1
        in_block = slots >= 0
        owner = np.repeat(np.arange(len(users)), np.diff(histories.indptr))
        per_user = np.bincount(owner[in_block], minlength=len(users))
        local = sp.csr_matrix(
            (
                np.ones(int(in_block.sum()), np.float32),
                slots[in_block],
                np.concatenate([[0], np.cumsum(per_user)]),
            ),
            shape=(len(users), len(block)),
        )
        return (local[:, np.searchsorted(block, rest)].T @ local).toarray()
