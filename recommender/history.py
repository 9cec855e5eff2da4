"""Who has what: each user's items with interaction weights, and their most recent item."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from recommender.recent import RecentEvents


@dataclass(frozen=True)
class HistoryConfig:
    """How strongly a user's past interaction with an item speaks for them.

    The strength is the weight of the strongest interaction type (as a share of the largest
    weight), times a recency factor: 1 for the user's latest activity, decaying as
    exp(-age / recency_days) towards `recency_floor` for old items. Age is measured from the
    user's own latest interaction, so an infrequent shopper's history does not fade away.
    """

    weights: Mapping[str, float] = field(
        default_factory=lambda: {"view": 1.0, "clicked": 1.0, "add_to_cart": 1.2, "purchase": 1.5}
    )
    recency_days: float = 90.0
    recency_floor: float = 0.3


@dataclass(frozen=True)
class UserHistory:
    """Row u of `matrix` holds user u's items with their strength in (0, 1]."""

    user_index: dict[str, int]
    matrix: sp.csr_matrix
    last_item: NDArray[np.int32]
    recent: RecentEvents | None = None  # each user's latest events, for the console (serving model only)

    @classmethod
    def build(
        cls, interactions: pd.DataFrame, n_items: int, config: HistoryConfig | None = None
    ) -> UserHistory:
        """From the loader's frame (user_id, item, interaction_type, ts)."""
        config = config or HistoryConfig()
        codes, users = pd.factorize(interactions["user_id"], sort=False)
        top_weight = max(config.weights.values())
        frame = pd.DataFrame(
            {
                "code": codes,
                "item": interactions["item"].to_numpy(),
                "weight": interactions["interaction_type"].map(config.weights).to_numpy(np.float32)
                / top_weight,
                "ts": interactions["ts"].to_numpy(),
            }
        )
        pairs = frame.groupby(["code", "item"], sort=False).agg(weight=("weight", "max"), ts=("ts", "max"))
        code = pairs.index.get_level_values("code").to_numpy()
        item = pairs.index.get_level_values("item").to_numpy()
        latest = frame.groupby("code")["ts"].max().to_numpy()
        age_days = (latest[code] - pairs["ts"].to_numpy()) / np.timedelta64(1, "D")
        floor = config.recency_floor
        recency = floor + (1.0 - floor) * np.exp(-age_days / config.recency_days)
        strength = (pairs["weight"].to_numpy() * recency).astype(np.float32)
        matrix = sp.csr_matrix((strength, (code, item)), shape=(len(users), n_items), dtype=np.float32)
        matrix.sort_indices()
        matrix.eliminate_zeros()
        last_item = np.full(len(users), -1, dtype=np.int32)
        if len(frame):
            newest = frame.sort_values("ts", kind="stable").groupby("code").tail(1)
            last_item[newest["code"].to_numpy()] = newest["item"].to_numpy()
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
