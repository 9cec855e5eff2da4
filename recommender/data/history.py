"""Who has what: each user's items with interaction weights, and their most recent item."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from recommender.data.recent import RecentEvents

# Where a step would copy a column of the whole log in another order, it works this many rows or
# pairs at a time (a column of the log is 0.3 to 0.7 GB at 85M rows).
BLOCK = 1 << 22


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
        cls,
        interactions: pd.DataFrame,
        n_items: int,
        config: HistoryConfig | None = None,
        recent: bool = False,
    ) -> UserHistory:
        """From the loader's frame (user_id, item, interaction_type, ts); with `recent`, each
        user's latest events too (RecentEvents, of the types `config` weighs).

        Plain arrays sorted by (user, item) rather than a groupby: a log of 85M rows then needs a
        few copies of one column at a time, not several of the frame.
        """
        config = config or HistoryConfig()
        if not len(interactions):
            return cls({}, sp.csr_matrix((0, n_items), dtype=np.float32), np.empty(0, np.int32))
        codes, users = pd.factorize(interactions["user_id"], sort=False)
        codes = codes.astype(np.int32)  # half the size of factorize's codes, on every row of the log
        item = interactions["item"].to_numpy()
        ts = interactions["ts"].to_numpy()
        kinds, names = pd.factorize(interactions["interaction_type"], sort=False)
        top_weight = max(config.weights.values())
        weight = (np.array([config.weights[n] for n in names], np.float32) / top_weight)[kinds]
        del kinds
        pair_code, pair_item, strength, latest = _pairs(codes, item, ts, weight, n_items, config)
        del weight
        # The pairs come sorted by user, then item: they are the matrix's rows as they stand.
        indptr = np.concatenate([[0], np.cumsum(np.bincount(pair_code, minlength=len(users)))])
        del pair_code
        matrix = sp.csr_matrix((strength, pair_item, indptr), shape=(len(users), n_items), dtype=np.float32)
        matrix.eliminate_zeros()
        last_item = _last_items(codes, item, ts, latest)
        events = RecentEvents.build(interactions, codes, len(users), list(config.weights)) if recent else None
        return cls({u: i for i, u in enumerate(users)}, matrix, last_item, events)

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


def _pairs(
    codes: NDArray[np.int32],
    item: NDArray[np.int32],
    ts: NDArray[np.datetime64],
    weight: NDArray[np.float32],
    n_items: int,
    config: HistoryConfig,
) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.float32], NDArray[np.datetime64]]:
    """One entry per (user, item) pair, sorted by user then item: (user, item, strength), and
    each user's latest time. A pair's strength is its strongest interaction's weight, faded by
    the age of its latest one. The work arrays are let go on return."""
    key = codes.astype(np.int64)
    key *= n_items
    key += item
    positions = np.int32 if len(key) < 2**31 else np.int64  # half the memory for any log that fits
    order = np.argsort(key, kind="stable")
    del key
    order = order.astype(positions)
    pair_code, pair_item = codes[order], item[order]
    first = np.flatnonzero(np.r_[True, (np.diff(pair_code) != 0) | (np.diff(pair_item) != 0)])
    first = first.astype(positions)
    pair_code, pair_item = pair_code[first], pair_item[first]
    pair_weight = _max_per_pair(weight, order, first)
    pair_ts = _max_per_pair(ts, order, first)
    del order, first
    # Pairs are grouped by user: each user's latest time is the latest of their pairs'.
    user_first = np.flatnonzero(np.r_[True, np.diff(pair_code) != 0])
    latest = np.maximum.reduceat(pair_ts, user_first)  # users are coded in order of appearance
    # floor + (1 - floor) * exp(-age_days / recency_days), in place: one array of pairs at a time
    age = latest[pair_code]  # each pair's user's latest time, less the pair's (in place)
    age = np.subtract(age, pair_ts, out=age.view(pair_ts.dtype.str.replace("M8", "m8")))
    del pair_ts
    recency = age / np.timedelta64(1, "D")
    del age
    np.negative(recency, out=recency)
    recency /= config.recency_days
    np.exp(recency, out=recency)
    recency *= 1.0 - config.recency_floor
    recency += config.recency_floor
    return pair_code, pair_item, (pair_weight * recency).astype(np.float32), latest


def _max_per_pair(values: np.ndarray, order: np.ndarray, first: np.ndarray) -> np.ndarray:
    """np.maximum.reduceat(values[order], first), BLOCK pairs at a time: the log's values are
    never all copied in sorted order at once."""
    out = np.empty(len(first), values.dtype)
    for lo in range(0, len(first), BLOCK):
        hi = min(lo + BLOCK, len(first))
        start, stop = first[lo], first[hi] if hi < len(first) else len(order)
        out[lo:hi] = np.maximum.reduceat(values[order[start:stop]], first[lo:hi] - start)
    return out


def _last_items(
    codes: NDArray[np.int32],
    item: NDArray[np.int32],
    ts: NDArray[np.datetime64],
    latest: NDArray[np.datetime64],
) -> NDArray[np.int32]:
    """Each user's last item: of the rows at their latest time, the last one in the log."""
    last_item = np.full(len(latest), -1, dtype=np.int32)
    # The rows at their user's latest time, BLOCK rows at a time (not every row's latest time at once)
    rows = np.concatenate(
        [
            np.flatnonzero(ts[lo : lo + BLOCK] == latest[codes[lo : lo + BLOCK]]) + lo
            for lo in range(0, len(ts), BLOCK)
        ]
    )
    rows = rows[np.argsort(codes[rows], kind="stable")]  # by user, in log order within each
    last = rows[np.r_[codes[rows][1:] != codes[rows][:-1], True]]
    last_item[codes[last]] = item[last]
    return last_item
