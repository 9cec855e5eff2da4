"""Candidates for the ranker: a few hundred products per user, drawn cheaply from several signals.

Each source gives each user a short ranked list: the collaborative model's, the text profile's,
the new products closest in text to the user's items, the neighbours (by text and by the
collaborative model) of an anchor product (the product being looked at, else the user's latest
item), and two lists everyone shares, products trending now and products selling most now.
The pool keeps, for every (user, product) pair, the score and rank each source gave it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from recommender.data.snapshot import ItemStats
from recommender.models.merging import gather, top_n
from recommender.models.neighbours import Neighbours, best_of, not_owned, top_k_neighbours, user_lists

SOURCES = ("collaborative", "text", "new", "anchor_text", "anchor_collaborative", "trending", "popular")
# How many products each source brings per user.
SIZES = {
    "collaborative": 100,
    "text": 100,
    "new": 50,
    "anchor_text": 50,
    "anchor_collaborative": 50,
    "trending": 50,
    "popular": 50,
}
# A product needs this many recent buyers before its trend counts.
TREND_SUPPORT = 3


@dataclass(frozen=True)
class Sources:
    """What candidates are drawn from at one moment of the store."""

    text: Neighbours  # each product's nearest products by text
    collaborative: Neighbours  # each product's strongest collaborative neighbours
    new: Neighbours  # each product's nearest new products by text
    trending: tuple[NDArray[np.int32], NDArray[np.float32]]  # products by trend now, best first
    popular: tuple[NDArray[np.int32], NDArray[np.float32]]  # products by recent buyers, best first

    @classmethod
    def build(
        cls,
        text: Neighbours,
        collaborative: Neighbours,
        vectors: sp.csr_matrix,
        stats: ItemStats,
        exists: NDArray[np.bool_],
        nearest: NearestNew | None = None,
    ) -> Sources:
        """Sources over the products that exist (the others never come up); `nearest`, when given,
        finds the nearest new products with the part it holds already."""
        new = stats.new & exists
        new_text = nearest.of(new) if nearest is not None else nearest_new(vectors, np.flatnonzero(new))
        trending = np.where((stats.recent_users >= TREND_SUPPORT) & exists, stats.trend, 0)
        popular = np.where(exists, stats.recent_users, 0)
        return cls(
            text=_only(text, exists),
            collaborative=_only(collaborative, exists),
            new=new_text,
            trending=_best(trending, SIZES["trending"]),
            popular=_best(popular, SIZES["popular"]),
        )


def nearest_new(vectors: sp.csr_matrix, new: NDArray[np.integer]) -> Neighbours:
    """Each product's nearest products by text among `new` (product rows)."""
    table = top_k_neighbours(vectors, vectors[new], SIZES["new"], exclude_self=False)
    return Neighbours(np.where(table.indices >= 0, new[table.indices], -1), table.scores)


@dataclass(frozen=True)
class NearestNew:
    """The nearest new products at several moments of one build. Products never sold are new at
    every moment, so their part is found once, and merged at each moment with the other new ones'."""

    vectors: sp.csr_matrix
    unsold: NDArray[np.bool_]
    unsold_table: Neighbours

    @classmethod
    def build(cls, vectors: sp.csr_matrix, unsold: NDArray[np.bool_]) -> NearestNew:
        return cls(vectors, unsold, nearest_new(vectors, np.flatnonzero(unsold)))

    def of(self, new: NDArray[np.bool_]) -> Neighbours:
        """The neighbours and scores nearest_new() finds among the products `new` (where scores tie
        at the end of a row, these keep the lower product indices)."""
        if (self.unsold & ~new).any():  # not a moment of this build: nothing to reuse
            return nearest_new(self.vectors, np.flatnonzero(new))
        others = nearest_new(self.vectors, np.flatnonzero(new & ~self.unsold))
        return best_of(self.unsold_table, others, min(SIZES["new"], int(new.sum())))


@dataclass(frozen=True)
class Pool:
    """Candidate (row, item) pairs, sorted, with each source's score (0: not from it) and rank (NaN)."""

    rows: NDArray[np.int64]
    items: NDArray[np.int32]
    scores: NDArray[np.float32]  # (pairs, len(SOURCES))
    ranks: NDArray[np.float32]  # (pairs, len(SOURCES))

    def __len__(self) -> int:
        return len(self.rows)


# The sources that depend on the user's items (the others on an anchor product, or on nobody).
PERSONAL = ("collaborative", "text", "new")


def personal_lists(
    sources: Sources, holdings: sp.csr_matrix, names: Sequence[str] = PERSONAL
) -> dict[str, Neighbours]:
    """Each row's lists from the sources that depend on its items (one row: summed directly)."""
    of_users = _one_user_lists if holdings.shape[0] == 1 else _user_lists
    return {name: of_users(holdings, getattr(sources, name), SIZES[name]) for name in names}


def pool(
    sources: Sources,
    holdings: sp.csr_matrix,
    anchors: NDArray[np.integer],
    personal: Mapping[str, Neighbours] | None = None,
) -> Pool:
    """The candidates of every row of `holdings` (users x items, strengths), never an item it holds.

    `anchors` holds one product per row that the anchor sources start from (-1: none);
    `personal`, the rows' personal_lists() when they were computed before.
    """
    n_rows, n_items = holdings.shape
    lists = {
        **(personal if personal is not None else personal_lists(sources, holdings)),
        "anchor_text": _rows_of(sources.text, anchors, SIZES["anchor_text"]),
        "anchor_collaborative": _rows_of(sources.collaborative, anchors, SIZES["anchor_collaborative"]),
        "trending": _shared(sources.trending, n_rows),
        "popular": _shared(sources.popular, n_rows),
    }
    rows, items, which, scores, ranks = [], [], [], [], []
    for s, name in enumerate(SOURCES):
        table = lists[name]
        valid = table.indices >= 0
        r, rank = np.nonzero(valid)
        rows.append(r)
        items.append(table.indices[valid])
        which.append(np.full(len(r), s, np.int64))
        scores.append(table.scores[valid])
        ranks.append(rank + 1)
    rows, items = np.concatenate(rows).astype(np.int64), np.concatenate(items).astype(np.int32)
    keep = not_owned(rows, items, holdings)
    keys, slot = np.unique(rows[keep] * n_items + items[keep], return_inverse=True)
    score_table = np.zeros((len(keys), len(SOURCES)), np.float32)
    rank_table = np.full((len(keys), len(SOURCES)), np.nan, np.float32)
    source = np.concatenate(which)[keep]
    score_table[slot, source] = np.concatenate(scores)[keep]
    rank_table[slot, source] = np.concatenate(ranks)[keep]
    return Pool(keys // n_items, (keys % n_items).astype(np.int32), score_table, rank_table)


def _user_lists(holdings: sp.csr_matrix, table: Neighbours, n: int) -> Neighbours:
    return user_lists(holdings, table, n).table


def _one_user_lists(holdings: sp.csr_matrix, table: Neighbours, n: int) -> Neighbours:
    """The same list as user_lists() for a single user, summed directly (no items x items matrix)."""
    items, weights = holdings.indices, holdings.data
    best, scores = (
        top_n(*gather(table, items, weights, exclude=items), n)
        if len(items)
        else (
            np.empty(0, np.int32),
            np.empty(0, np.float32),
        )
    )
    return Neighbours(best[None, :], scores[None, :])


def _only(table: Neighbours, exists: NDArray[np.bool_]) -> Neighbours:
    """The table without products that do not exist (their slots become padding)."""
    if exists.all():
        return table
    gone = (table.indices >= 0) & ~exists[np.maximum(table.indices, 0)]
    return Neighbours(np.where(gone, -1, table.indices), np.where(gone, 0, table.scores))


def _best(values: NDArray[np.floating], n: int) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """The n products with the largest positive values, best first (ties: lower index first)."""
    order = np.lexsort((np.arange(len(values)), -values))[:n]
    order = order[values[order] > 0]
    return order.astype(np.int32), values[order].astype(np.float32)


def _rows_of(table: Neighbours, anchors: NDArray[np.integer], n: int) -> Neighbours:
    """Each row's anchor's first n neighbours (padding where there is no anchor)."""
    anchors = np.asarray(anchors, np.int64)
    has = anchors >= 0
    indices = np.where(has[:, None], table.indices[np.maximum(anchors, 0), :n], -1)
    scores = np.where(has[:, None], table.scores[np.maximum(anchors, 0), :n], 0)
    return Neighbours(indices, scores)


def _shared(best: tuple[NDArray[np.int32], NDArray[np.float32]], n_rows: int) -> Neighbours:
    items, scores = best
    return Neighbours(
        np.broadcast_to(items, (n_rows, len(items))), np.broadcast_to(scores, (n_rows, len(items)))
    )
