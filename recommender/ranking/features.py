"""Features of (user, candidate) pairs for the ranker, all from arrays built with the model.

Columns: each source's score and rank (see candidates.SOURCES), how many sources brought the
product; the product's reach, recent reach, trend, age in the store and price; the user's
history length, logged events, days idle and mean strength of their items; and for the pair, the
share of the user's items in the product's category and the product's price against the user's
usual price (log ratio). Missing values are NaN: the trees learn what missing means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from recommender.data.snapshot import ItemStats
from recommender.ranking.candidates import SOURCES, Pool

NAMES = (
    *(f"{s}_score" for s in SOURCES),
    *(f"{s}_rank" for s in SOURCES),
    *(f"{s}_relative" for s in SOURCES),
    "sources",
    "item_users",
    "item_recent_users",
    "item_trend",
    "item_age_days",
    "log_days",
    "item_log_price",
    "user_items",
    "user_events",
    "user_idle_days",
    "user_strength",
    "category_share",
    "price_gap",
)


@dataclass(frozen=True)
class ProductFacts:
    """What the catalog says of each product that the features use."""

    category: NDArray[np.int32]  # category code, -1 for none
    log_price: NDArray[np.float32]  # log of the price, NaN where unknown

    @classmethod
    def of(cls, categories: NDArray[np.object_], prices: NDArray[np.floating]) -> ProductFacts:
        codes = np.full(len(categories), -1, np.int32)
        named = np.array([bool(c) for c in categories], dtype=bool) if len(categories) else np.zeros(0, bool)
        if named.any():
            _, codes[named] = np.unique(categories[named].astype(str), return_inverse=True)
        prices = np.asarray(prices, np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_price = np.where(prices > 0, np.log(prices), np.nan).astype(np.float32)
        return cls(codes, log_price)


@dataclass(frozen=True)
class UserFacts:
    """Per row of a batch: the user's logged events and days idle (NaN for a user the log lacks)."""

    events: NDArray[np.float32]
    idle_days: NDArray[np.float32]


def features(
    candidates: Pool,
    holdings: sp.csr_matrix,
    users: UserFacts,
    items: ItemStats,
    products: ProductFacts,
) -> NDArray[np.float32]:
    """The feature matrix (pairs x len(NAMES)) of the pool's pairs, in the order of NAMES."""
    rows, item = candidates.rows, candidates.items
    held = holdings.copy()
    held.data = np.ones_like(held.data)
    count = np.asarray(held.sum(axis=1)).ravel().astype(np.float32)
    strength = np.asarray(holdings.sum(axis=1)).ravel().astype(np.float32) / np.maximum(count, 1)
    columns = [
        candidates.scores,
        candidates.ranks,
        _relative(candidates.scores, rows),
        (candidates.scores > 0).sum(axis=1, keepdims=True).astype(np.float32),
    ]
    per_pair = [
        np.log1p(items.users[item]),
        np.log1p(items.recent_users[item]),
        items.trend[item],
        items.age_days[item],
        np.full(len(rows), items.log_days, np.float32),
        products.log_price[item],
        count[rows],
        users.events[rows],
        users.idle_days[rows],
        strength[rows],
        _category_share(held, count, rows, item, products.category),
        products.log_price[item] - _mean_log_price(held, products.log_price)[rows],
    ]
    columns.append(np.column_stack(per_pair).astype(np.float32))
    return np.hstack(columns)


def blend_scores(candidates: Pool, w_content: float = 0.1, w_cf: float = 0.9) -> NDArray[np.float32]:
    """The untrained ordering: the hybrid's blend of the pool's scores, each scaled to [0, 1] per user.

    Collaborative at w_cf; text at w_content, split between the user's profile and the anchor;
    then a little of what sells now, so users without any signal still get an order.
    """
    weights = {"collaborative": w_cf, "text": w_content / 2, "anchor_text": w_content / 2, "popular": 1e-3}
    scaled = _relative(candidates.scores, candidates.rows)
    return sum(w * scaled[:, SOURCES.index(name)] for name, w in weights.items()).astype(np.float32)


def _relative(scores: NDArray[np.float32], rows: NDArray[np.int64]) -> NDArray[np.float32]:
    """Each score over the best score of the same source for the same row (0 where none)."""
    top = np.zeros((int(rows.max(initial=-1)) + 1, scores.shape[1]), np.float32)
    np.maximum.at(top, rows, scores)
    return scores / np.maximum(top[rows], 1e-12)


def _category_share(
    held: sp.csr_matrix,
    count: NDArray[np.float32],
    rows: NDArray[np.int64],
    item: NDArray[np.int32],
    category: NDArray[np.int32],
) -> NDArray[np.float32]:
    """Share of the row's items in the candidate's category; NaN for a product without one."""
    n_categories = int(category.max(initial=-1)) + 1
    share = np.full(len(rows), np.nan, np.float32)
    if n_categories == 0:
        return share
    named = np.flatnonzero(category >= 0)
    one_hot = sp.csr_matrix(
        (np.ones(len(named), np.float32), (named, category[named])), shape=(len(category), n_categories)
    )
    per_row = (held @ one_hot).tocsr()  # rows x categories: how many of the row's items in each
    has = category[item] >= 0
    share[has] = _lookup(per_row, rows[has], category[item[has]]) / np.maximum(count[rows[has]], 1)
    return share


def _mean_log_price(held: sp.csr_matrix, log_price: NDArray[np.float32]) -> NDArray[np.float32]:
    known = np.isfinite(log_price)
    total = held @ np.where(known, log_price, 0).astype(np.float64)
    priced = held @ known.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(priced > 0, total / priced, np.nan).astype(np.float32)


def _lookup(
    matrix: sp.csr_matrix, rows: NDArray[np.integer], cols: NDArray[np.integer]
) -> NDArray[np.float32]:
    """matrix[rows[i], cols[i]] for every i (0 where nothing is stored)."""
    matrix.sort_indices()
    n_cols = matrix.shape[1]
    stored_rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    keys = stored_rows.astype(np.int64) * n_cols + matrix.indices
    wanted = np.asarray(rows, np.int64) * n_cols + cols
    if len(keys) == 0:
        return np.zeros(len(wanted), np.float32)
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[at] == wanted, matrix.data[at], 0).astype(np.float32)
