"""Training windows of the store's own past, for the ranker.

For a moment t some weeks before the end of the log, the store is rebuilt as it stood at t
(histories, statistics and the collaborative model from the rows before t only), each labelled
user's candidates and features are computed as of t, and the label of a candidate is whether the
user took it in the window [t, t + window_days). Only products on sale by the window's end can be
candidates (see on_sale_from): so the ranker learns how products new at t sold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from recommender.data.history import HistoryConfig, UserHistory
from recommender.data.snapshot import DAY, Snapshot
from recommender.models.neighbours import Neighbours, not_owned
from recommender.ranking.candidates import NearestNew, Sources, pool
from recommender.ranking.config import RankerConfig
from recommender.ranking.features import ProductFacts, UserFacts, blend_scores, features


@dataclass
class Window:
    """One training window's candidate pairs, their features and labels."""

    at: np.datetime64
    end: np.datetime64
    x: NDArray[np.float32]
    y: NDArray[np.float32]
    items: NDArray[np.int32]  # the product of each pair
    groups: NDArray[np.int64]  # pairs per user, users in row order
    truth: NDArray[np.int64]  # items each user took in the window (in the pool or not)
    blend: NDArray[np.float32]  # the untrained ordering's score of each pair


# The collaborative neighbour table of a history (a fresh fit for each window).
Collaborate = Callable[[UserHistory], Neighbours]


def build_window(
    interactions: pd.DataFrame,
    at: np.datetime64,
    config: RankerConfig,
    text: Neighbours,
    vectors: sp.csr_matrix,
    products: ProductFacts,
    collaborate: Collaborate,
    history_config: HistoryConfig,
    on_sale: NDArray,
    rng: np.random.Generator,
    negatives: float = 1.0,
    nearest: NearestNew | None = None,
) -> Window | None:
    """The window starting at `at`: features as of `at`, labels from the days after it.

    `on_sale` holds when each product went on sale (on_sale_from); `negatives` is the share of the
    pairs not taken that are kept (1: all of them); `nearest`, the build's nearest new products.
    """
    end = at + np.timedelta64(config.window_days, "D")
    n_items = len(products.category)
    exists = on_sale < end
    snap = Snapshot.build(interactions, n_items, at, history_config, exists=exists)
    ts = interactions["ts"].to_numpy()
    after = interactions[(ts >= at) & (ts < end)]
    rows = after["user_id"].map(snap.history.user_index)
    known = rows.notna().to_numpy()
    pairs = pd.DataFrame({"row": rows[known].astype(np.int64), "item": after["item"].to_numpy()[known]})
    pairs = pairs.drop_duplicates()
    pairs = pairs[not_owned(pairs["row"].to_numpy(), pairs["item"].to_numpy(), snap.history.matrix)]
    users = np.unique(pairs["row"].to_numpy())
    if len(users) < config.min_users:
        return None
    if len(users) > config.users_per_window:
        users = np.sort(rng.choice(users, config.users_per_window, replace=False))
    sources = Sources.build(text, collaborate(snap.history), vectors, snap.items, exists, nearest)
    holdings = snap.history.matrix[users]
    anchors = snap.history.last_item[users]
    candidates = pool(sources, holdings, anchors)
    facts = UserFacts(snap.events[users], snap.idle_days[users])
    x = features(candidates, holdings, facts, snap.items, products)
    local = np.full(snap.history.n_users, -1, np.int64)
    local[users] = np.arange(len(users))
    taken = pairs[local[pairs["row"].to_numpy()] >= 0]
    taken_keys = local[taken["row"].to_numpy()] * n_items + taken["item"].to_numpy()
    y = np.isin(candidates.rows * n_items + candidates.items, taken_keys).astype(np.float32)
    truth = np.bincount(local[taken["row"].to_numpy()], minlength=len(users))
    window = Window(
        at=at,
        end=end,
        x=x,
        y=y,
        items=candidates.items,
        groups=np.bincount(candidates.rows, minlength=len(users)),
        truth=truth,
        blend=blend_scores(candidates),
    )
    return window if negatives >= 1 else sample(window, negatives, rng)


def on_sale_from(interactions: pd.DataFrame, n_items: int) -> NDArray[np.datetime64]:
    """When each product went on sale, as far as the log tells: its first interaction.

    A product the log never saw sold is in the catalog now, and nothing says since when: it is on
    sale from the log's start. Served, such products are candidates too; leaving them out of the
    windows would keep only the new products that sold in the window (their sale is what put them
    there), and the ranker would rate products it has not seen sell too high.
    """
    ts = interactions["ts"].to_numpy()
    start = ts.min() if len(ts) else np.datetime64(0, "ns")
    on_sale = np.full(n_items, start, dtype="datetime64[ns]")
    first = pd.Series(ts).groupby(interactions["item"].to_numpy()).min()
    on_sale[first.index.to_numpy()] = first.to_numpy()
    return on_sale


def sample(window: Window, negatives: float, rng: np.random.Generator) -> Window:
    """The window with every taken pair and a random share `negatives` of the others."""
    keep = (window.y > 0) | (rng.random(len(window.y)) < negatives)
    rows = np.repeat(np.arange(len(window.groups)), window.groups)[keep]
    groups = np.bincount(rows, minlength=len(window.groups))
    has = groups > 0
    return Window(
        at=window.at,
        end=window.end,
        x=window.x[keep],
        y=window.y[keep],
        items=window.items[keep],
        groups=groups[has],
        truth=window.truth[has],
        blend=window.blend[keep],
    )


def window_starts(end: np.datetime64, start: np.datetime64, config: RankerConfig) -> list[np.datetime64]:
    """The moments windows start at: the latest one window length before `end`, then every
    stride_days back, as long as each has some history before it (at most `windows` of them)."""
    latest = end - np.timedelta64(config.window_days, "D")
    moments = [latest - np.timedelta64(config.stride_days * i, "D") for i in range(config.windows)]
    return [m for m in moments if m - start >= 14 * DAY]
