"""Item-based collaborative filtering: items are similar when the same users interact with both."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.preprocessing import normalize

from recommender.history import UserHistory
from recommender.neighbours import Neighbours, gather, top_k_neighbours, top_n


@dataclass(frozen=True)
class CollaborativeConfig:
    neighbours: int = 100


class ItemKNN:
    """Cosine similarity between items' user vectors, pruned to each item's top neighbours.

    A user's score for item i is the sum, over the items j they have, of their weight for j
    times the similarity of j and i.
    """

    def __init__(self, config: CollaborativeConfig | None = None) -> None:
        self.config = config or CollaborativeConfig()
        self.neighbours: Neighbours | None = None

    def fit(self, history: UserHistory) -> ItemKNN:
        item_users = history.matrix.T.tocsr()
        if item_users.nnz:
            item_users = normalize(item_users)
        self.neighbours = top_k_neighbours(item_users, item_users, self.config.neighbours)
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
