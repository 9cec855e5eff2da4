"""Who has what: each user's items with interaction weights, and their most recent item."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray


@dataclass(frozen=True)
class UserHistory:
    """Row u of `matrix` holds user u's items; a value is log(1 + sum of interaction weights)."""

    user_index: dict[str, int]
    matrix: sp.csr_matrix
    last_item: NDArray[np.int32]

    @classmethod
    def build(cls, interactions: pd.DataFrame, n_items: int, weights: Mapping[str, float]) -> UserHistory:
        """From the loader's frame (user_id, item, interaction_type, ts)."""
        codes, users = pd.factorize(interactions["user_id"], sort=False)
        value = interactions["interaction_type"].map(weights).to_numpy(dtype=np.float32)
        matrix = sp.csr_matrix(
            (value, (codes, interactions["item"].to_numpy())), shape=(len(users), n_items), dtype=np.float32
        )
        matrix.sum_duplicates()
        matrix.data = np.log1p(matrix.data)
        matrix.eliminate_zeros()
        last_item = np.full(len(users), -1, dtype=np.int32)
        if len(interactions):
            latest = interactions.assign(code=codes).sort_values("ts", kind="stable").groupby("code").tail(1)
            last_item[latest["code"].to_numpy()] = latest["item"].to_numpy()
        return cls({u: i for i, u in enumerate(users)}, matrix, last_item)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self.user_index

    @property
    def n_users(self) -> int:
        return self.matrix.shape[0]

    def items_of(self, user_id: str | None) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """The user's items and weights; empty arrays for an unknown user or None."""
        row = None if user_id is None else self.user_index.get(user_id)
        if row is None:
            return np.empty(0, np.int32), np.empty(0, np.float32)
        start, stop = self.matrix.indptr[row], self.matrix.indptr[row + 1]
        return self.matrix.indices[start:stop], self.matrix.data[start:stop]

    def last_item_of(self, user_id: str | None) -> int | None:
        """The item of the user's most recent interaction, or None."""
        row = None if user_id is None else self.user_index.get(user_id)
        if row is None or self.last_item[row] < 0:
            return None
        return int(self.last_item[row])
