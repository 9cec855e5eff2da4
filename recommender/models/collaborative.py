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

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.preprocessing import normalize

from recommender.data.history import UserHistory
from recommender.models.merging import gather, top_n
from recommender.models.neighbours import Neighbours, top_k_neighbours
from recommender.models.regression import neighbourhood_regression

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollaborativeConfig:
    neighbours: int = 100  # items each item points to at request time
    candidates: int = 100  # possible predictors of each item in the regression
    regularization: float = 300.0  # lambda: larger trusts co-occurrence less
    # Regression work budget (items x candidates^2): from 250,000 taken products on, each product
    # has fewer possible predictors (50 at 1M), so the build's time stops growing with their square.
    work: int = 2_500_000_000

    def candidates_for(self, n_items: int) -> int:
        """Possible predictors of each of n_items products: `candidates`, fewer past the budget."""
        return max(1, min(self.candidates, math.isqrt(self.work // max(n_items, 1))))


class ItemItemModel:
    """Fitted item-to-item weights, kept as a top-K neighbour table for cheap lookups."""

    def __init__(
        self, config: CollaborativeConfig | None = None, neighbours: Neighbours | None = None
    ) -> None:
        self.config = config or CollaborativeConfig()
        self.neighbours = neighbours

    def fit(self, history: UserHistory) -> ItemItemModel:
        cfg = self.config
        item_users = history.matrix.T.tocsr()  # a copy: who has the item, 1 whatever the strength
        item_users.data[:] = 1.0
        n_items = item_users.shape[0]
        if item_users.nnz == 0:
            self.neighbours = top_k_neighbours(item_users, item_users, cfg.neighbours)
            return self
        marks = [time.perf_counter()]
        unit = normalize(item_users)
        taken = int(np.count_nonzero(np.diff(item_users.indptr)))
        candidates = top_k_neighbours(unit, unit, cfg.candidates_for(taken))
        del unit  # as large as the matrix: let go before the regression's own copies
        marks.append(time.perf_counter())
        weights = neighbourhood_regression(item_users, candidates, cfg.regularization)
        marks.append(time.perf_counter())
        # weights[j, i]: how much having j predicts i. Keep each j's strongest positive targets.
        self.neighbours = top_k_neighbours(weights, sp.identity(n_items, format="csr"), cfg.neighbours)
        marks.append(time.perf_counter())
        log.info(
            "collaborative: candidates %.1f s, regressions %.1f s, neighbour table %.1f s", *np.diff(marks)
        )
        return self

    def recommend(
        self, items: NDArray[np.integer], weights: NDArray[np.floating], n: int
    ) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """The n best items for someone who has `items` (with `weights`), never one of `items`."""
        assert self.neighbours is not None, "fit() first"
        if len(items) == 0:
            return np.empty(0, np.int32), np.empty(0, np.float32)
        return top_n(*gather(self.neighbours, items, weights, exclude=items), n)
