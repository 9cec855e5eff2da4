"""Feedback received since the model was built, applied on top of the users' histories."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

# (id, user_id, product_id, action, ts) as the feedback table stores them
Event = tuple[int, str, str, str, datetime]


class FeedbackOverlay:
    """Each user's items from stored feedback, with the strength their action gives them.

    Events come in id order; `last_id` is the last one applied, so a worker asks the store only
    for what is newer. `events` counts each user's events: it changes with every new one.
    """

    def __init__(self, index: Mapping[str, int], weights: Mapping[str, float]) -> None:
        self.index = index
        self.strength = {action: w / max(weights.values()) for action, w in weights.items()}
        self.last_id = 0
        self.synced = False  # whether the store was read for this model at least once
        self.items: dict[str, dict[int, float]] = {}
        self.latest: dict[str, int] = {}
        self.events: dict[str, int] = {}
        # Products the model does not have (added through the live catalog since the build), by
        # id: what the user has of them is theirs too, and no answer offers it back.
        self.others: dict[str, set[str]] = {}

    def apply(self, events: Iterable[Event]) -> None:
        for event_id, user_id, product_id, action, _ts in events:
            self.last_id = max(self.last_id, event_id)
            self.events[user_id] = self.events.get(user_id, 0) + 1
            item = self.index.get(product_id)
            if item is None:
                self.others.setdefault(user_id, set()).add(product_id)
                continue
            mine = self.items.setdefault(user_id, {})
            mine[item] = max(mine.get(item, 0.0), self.strength.get(action, 0.0))
            self.latest[user_id] = item

    def extend(
        self, user_id: str | None, items: NDArray[np.int32], weights: NDArray[np.float32]
    ) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """The user's items and weights with their feedback added (the stronger weight wins)."""
        extra = self.items.get(user_id) if user_id is not None else None
        if not extra:
            return items, weights
        merged = dict(zip(items.tolist(), weights.tolist(), strict=True))
        for item, strength in extra.items():
            merged[item] = max(merged.get(item, 0.0), strength)
        return np.fromiter(merged, np.int32, len(merged)), np.fromiter(
            merged.values(), np.float32, len(merged)
        )
