"""Temporal split and ranking metrics at K for offline evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray


@dataclass(frozen=True)
class Split:
    """Training rows (before the cutoff) and, per test user, the new items they took after it."""

    train: pd.DataFrame
    truth: dict[str, NDArray[np.int32]]
    new_items: NDArray[np.bool_]  # True for items with no training interaction


def temporal_split(
    interactions: pd.DataFrame, cutoff: pd.Timestamp, n_items: int, horizon_days: int | None = None
) -> Split:
    """Train on rows before `cutoff`; test users had history before it and new items after it.

    A user's ground truth is the set of items they interacted with after the cutoff and never
    before: up to the end of the log, or within `horizon_days` of the cutoff.
    """
    before = interactions["ts"] < cutoff
    train, test = interactions[before], interactions[~before]
    if horizon_days is not None:
        test = test[test["ts"] < cutoff + pd.Timedelta(days=horizon_days)]
    seen = set(zip(train["user_id"], train["item"], strict=True))
    known_users = set(train["user_id"])
    truth: dict[str, set[int]] = {}
    for user, item in zip(test["user_id"], test["item"], strict=True):
        if user in known_users and (user, item) not in seen:
            truth.setdefault(user, set()).add(int(item))
    new_items = np.ones(n_items, dtype=bool)
    new_items[train["item"].unique()] = False
    return Split(
        train=train.reset_index(drop=True),
        truth={u: np.array(sorted(items), dtype=np.int32) for u, items in sorted(truth.items())},
        new_items=new_items,
    )


def ranking_metrics(
    recommended: Sequence[NDArray[np.integer]],
    truth: Sequence[NDArray[np.integer]],
    k: int,
    n_items: int,
    new_items: NDArray[np.bool_] | None = None,
) -> dict[str, float]:
    """Mean precision, recall, NDCG, MAP and hit rate at k over users, and catalog coverage.

    Relevance is binary. NDCG divides by the best DCG reachable with min(|truth|, k) hits; MAP
    divides the sum of precisions at each hit by min(|truth|, k). With `new_items`, also counts
    how often items new to the catalog were recommended and how often they were hits.
    """
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    totals = dict.fromkeys(("precision", "recall", "ndcg", "map", "hit_rate"), 0.0)
    shown: set[int] = set()
    new_shown = new_hits = 0
    for recs, relevant in zip(recommended, truth, strict=True):
        recs = np.asarray(recs)[:k]
        hits = np.isin(recs, relevant)
        n_hits = int(hits.sum())
        ideal = min(len(relevant), k)
        totals["precision"] += n_hits / k
        totals["recall"] += n_hits / len(relevant)
        totals["ndcg"] += float(discounts[: len(recs)][hits].sum() / discounts[:ideal].sum())
        totals["map"] += float((np.cumsum(hits) / np.arange(1, len(recs) + 1))[hits].sum() / ideal)
        totals["hit_rate"] += float(n_hits > 0)
        shown.update(recs.tolist())
        if new_items is not None:
            is_new = new_items[recs]
            new_shown += int(is_new.sum())
            new_hits += int((is_new & hits).sum())
    users = max(len(truth), 1)
    result = {name: value / users for name, value in totals.items()}
    result["coverage"] = len(shown) / n_items
    result["users"] = len(truth)
    if new_items is not None:
        result["new_item_shown"] = new_shown
        result["new_item_hits"] = new_hits
    return result
