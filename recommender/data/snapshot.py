"""The store as it stood at one moment: who had what, and how each product was selling then.

The ranker learns from the store's past, so every number it sees is computed "as of" a time: the
training windows use earlier moments of the same log, the served model uses the log's end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from recommender.data.history import HistoryConfig, UserHistory

# Sales in this many days before the moment are "recent" (popularity now, and trend).
RECENT_DAYS = 28.0
# A product first sold this many days ago or less, or never sold, counts as new to the store.
NEW_DAYS = 28.0
DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class ItemStats:
    """One value per product, as of the snapshot's moment."""

    age_days: NDArray[np.float32]  # days since the product's first interaction; NaN: none yet
    users: NDArray[np.float32]  # distinct users who ever interacted with it
    recent_users: NDArray[np.float32]  # distinct users in the last RECENT_DAYS
    trend: NDArray[np.float32]  # recent sales over what its long-run rate predicts (1: steady)
    log_days: float  # how many days of log the statistics saw: an age near it may be older

    @property
    def new(self) -> NDArray[np.bool_]:
        """Products never seen yet, or first seen at most NEW_DAYS ago and not at the log's start."""
        young = (self.age_days <= NEW_DAYS) & (self.age_days < self.log_days - NEW_DAYS)
        return np.isnan(self.age_days) | young


@dataclass(frozen=True)
class Snapshot:
    """Histories and statistics of the interactions before `at`."""

    at: np.datetime64
    history: UserHistory
    items: ItemStats
    idle_days: NDArray[np.float32]  # per user: days since their latest interaction
    events: NDArray[np.float32]  # per user: interactions logged
    exists: NDArray[np.bool_]  # products that may be recommended at this moment

    @classmethod
    def build(
        cls,
        interactions: pd.DataFrame,
        n_items: int,
        at: np.datetime64,
        config: HistoryConfig | None = None,
        exists: NDArray[np.bool_] | None = None,
        history: UserHistory | None = None,
    ) -> Snapshot:
        """From the loader's frame (user_id, item, interaction_type, ts), using only rows before `at`;
        `history`, when given, is the UserHistory of those same rows, built already."""
        at = np.datetime64(at, "ns")
        before = interactions[interactions["ts"].to_numpy() < at]
        history = history if history is not None else UserHistory.build(before, n_items, config)
        codes = before["user_id"].map(history.user_index).to_numpy(np.int64)
        ts = before["ts"].to_numpy()
        last = np.full(history.n_users, np.datetime64("NaT", "ns"))
        if len(before):
            order = np.argsort(codes, kind="stable")
            starts = np.r_[0, np.flatnonzero(np.diff(codes[order])) + 1]
            last[codes[order][starts]] = np.maximum.reduceat(ts[order], starts)
        return cls(
            at=at,
            history=history,
            items=item_stats(before, n_items, at),
            idle_days=((at - last) / DAY).astype(np.float32),
            events=np.bincount(codes, minlength=history.n_users).astype(np.float32),
            exists=np.ones(n_items, bool) if exists is None else exists,
        )


def item_stats(before: pd.DataFrame, n_items: int, at: np.datetime64) -> ItemStats:
    """Age, reach, recent reach and trend of every product from the rows before `at`."""
    items = before["item"].to_numpy()
    ts = before["ts"].to_numpy()
    first = np.full(n_items, np.datetime64("NaT", "ns"))
    if len(items):
        seen = pd.Series(ts).groupby(items).min()
        first[seen.index.to_numpy()] = seen.to_numpy()
    age = ((at - first) / DAY).astype(np.float32)
    users = _distinct_users(before, n_items)
    recent = _distinct_users(before[ts >= at - np.timedelta64(int(RECENT_DAYS * 86400), "s")], n_items)
    # What the long-run rate predicts for the recent window: all its users spread over its lifetime.
    expected = users * RECENT_DAYS / np.maximum(np.nan_to_num(age, nan=RECENT_DAYS), RECENT_DAYS)
    trend = ((recent + 1.0) / (expected + 1.0)).astype(np.float32)
    log_days = float((at - ts.min()) / DAY) if len(ts) else 0.0
    return ItemStats(age, users, recent, trend, log_days)


def _distinct_users(rows: pd.DataFrame, n_items: int) -> NDArray[np.float32]:
    pairs = rows[["user_id", "item"]].drop_duplicates()
    return np.bincount(pairs["item"].to_numpy(), minlength=n_items).astype(np.float32)
