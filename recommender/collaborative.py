"""Item-based collaborative filtering: item-item regression restricted to each item's neighbourhood.

For every item i, the items most often taken by the same users (top `candidates` by cosine) are
its possible predictors, and ridge regression finds how much each predicts i:

    b_i = (G_NN + lambda I)^-1 G_Ni,    G = X^T X,  X the binary user-item matrix,  N = predictors of i

This is EASE (Steck 2019) with each column's support limited to a neighbourhood, in the spirit of
SLIM: it costs O(items x candidates^3) instead of a dense items x items inverse, so it scales to
large catalogs, and with enough candidates it matches EASE. A user's score for i is the sum of
b_i over the items they have, weighted by how strongly (and how recently) they had them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.preprocessing import normalize

from recommender.history import UserHistory
from recommender.neighbours import Neighbours, gather, top_k_neighbours, top_n

# Co-occurrence counts of a batch's predictors are gathered in one dense block of at most this many items.
BLOCK_ITEMS = 2048


@dataclass(frozen=True)
class CollaborativeConfig:
    neighbours: int = 100  # items each item points to at request time
    candidates: int = 100  # possible predictors of each item in the regression
    regularization: float = 300.0  # lambda: larger trusts co-occurrence less


class ItemItemModel:
    """Fitted item-to-item weights, kept as a top-K neighbour table for cheap lookups."""

    def __init__(self, config: CollaborativeConfig | None = None) -> None:
        self.config = config or CollaborativeConfig()
        self.neighbours: Neighbours | None = None

    def fit(self, history: UserHistory) -> ItemItemModel:
        cfg = self.config
        presence = history.matrix.copy()
        presence.data[:] = 1.0
        item_users = presence.T.tocsr()
        n_items = item_users.shape[0]
        if item_users.nnz == 0:
            self.neighbours = top_k_neighbours(item_users, item_users, cfg.neighbours)
            return self
        unit = normalize(item_users)
        candidates = top_k_neighbours(unit, unit, cfg.candidates)
        counts = np.asarray(item_users.sum(axis=1)).ravel()
        weights = _regression(presence.tocsc(), candidates, counts, cfg.regularization)
        # weights[j, i]: how much having j predicts i. Keep each j's strongest positive targets.
        self.neighbours = top_k_neighbours(weights, sp.identity(n_items, format="csr"), cfg.neighbours)
        return self

    def recommend(
        self, items: NDArray[np.integer], weights: NDArray[np.floating], n: int
    ) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """The n best items for someone who has `items` (with `weights`), never one of `items`."""
        assert self.neighbours is not None, "fit() first"
        if len(items) == 0:
            return np.empty(0, np.int32), np.empty(0, np.float32)
        candidates, scores = gather(self.neighbours, items, weights)
        return top_n(candidates, scores, n, exclude=items)


def _regression(
    user_items: sp.csc_matrix, candidates: Neighbours, counts: NDArray[np.floating], regularization: float
) -> sp.csr_matrix:
    """Solve every item's ridge regression on its candidate predictors; a sparse items x items matrix."""
    n_items, width = candidates.indices.shape
    per_batch = max(1, BLOCK_ITEMS // max(width, 1))
    rows, cols, vals = [], [], []
    for start in range(0, n_items, per_batch):
        targets = np.arange(start, min(start + per_batch, n_items))
        predictors = candidates.indices[targets]  # (b, L), -1 where an item has fewer candidates
        valid = predictors >= 0
        block = np.unique(predictors[valid])
        if block.size == 0:
            continue
        columns = user_items[:, block]
        cooc = (columns.T @ columns).toarray().astype(np.float64)
        pos = np.searchsorted(block, np.where(valid, predictors, block[0]))
        gram = cooc[pos[:, :, None], pos[:, None, :]]
        # Padding slots: no co-occurrence with anything, so their weight comes out 0.
        pair_valid = valid[:, :, None] & valid[:, None, :]
        gram = np.where(pair_valid, gram, 0.0)
        gram[:, np.arange(width), np.arange(width)] += regularization
        # G_Ni from the cosine already computed: cos(i, j) * sqrt(count_i * count_j).
        rhs = candidates.scores[targets] * np.sqrt(
            counts[targets][:, None] * counts[np.maximum(predictors, 0)]
        )
        rhs = np.where(valid, rhs, 0.0)
        solved = np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]
        keep = valid & (solved > 0)
        rows.append(predictors[keep])
        cols.append(np.broadcast_to(targets[:, None], predictors.shape)[keep])
        vals.append(solved[keep].astype(np.float32))
    if not rows:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_items, n_items)
    )
