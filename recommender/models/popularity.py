"""Best sellers: the fallback for users and products the other models know nothing about."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from recommender.data.history import UserHistory
from recommender.models.merging import without


class Popularity:
    """Items ranked by how many distinct users interacted with them; ties keep catalog order."""

    def __init__(
        self, order: NDArray[np.int32] | None = None, scores: NDArray[np.float32] | None = None
    ) -> None:
        self.order = np.empty(0, np.int32) if order is None else order
        self.scores = np.empty(0, np.float32) if scores is None else scores

    def fit(self, history: UserHistory) -> Popularity:
        users_per_item = np.diff(history.matrix.tocsc().indptr).astype(np.float32)
        top = users_per_item.max(initial=0.0)
        self.scores = users_per_item / top if top > 0 else users_per_item
        self.order = np.lexsort((np.arange(len(users_per_item)), -users_per_item)).astype(np.int32)
        return self

    def recommend(
        self, n: int, exclude: NDArray[np.integer] | None = None
    ) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """The n most popular items not in `exclude`, with scores in [0, 1]."""
        excluded = 0 if exclude is None else len(exclude)
        head = self.order[: n + excluded]
        if excluded:
            head = head[without(head, exclude)][:n]
        return head, self.scores[head]
