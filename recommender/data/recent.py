"""Each user's latest events in the log (product, interaction type, time), for people to look at."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from numpy.typing import NDArray

KEEP = 20  # events kept per user


@dataclass(frozen=True)
class RecentEvents:
    """User u's events are rows indptr[u]:indptr[u + 1], oldest first."""

    indptr: NDArray[np.int64]
    items: NDArray[np.int32]
    kinds: NDArray[np.int8]  # index into `names`
    times: NDArray[np.int64]  # seconds since 1970, UTC
    names: Sequence[str]  # the interaction types

    @classmethod
    def build(
        cls,
        interactions: pd.DataFrame,
        users: NDArray[np.int32],
        n_users: int,
        names: Sequence[str],
        keep: int = KEEP,
    ) -> RecentEvents:
        """From the loader's frame (user_id, item, interaction_type, ts), whose rows' users are
        `users` (rows 0 to n_users - 1, as the histories code them)."""
        times = interactions["ts"].to_numpy("datetime64[s]").view(np.int64)
        order = np.lexsort((times, users))  # by user, then time; stable, so ties keep the log's order
        counts = np.bincount(users, minlength=n_users)
        # Each user's last `keep` rows: positions ends - taken to ends of the sorted order.
        taken = np.minimum(counts, keep)
        indptr = np.concatenate([[0], np.cumsum(taken)]).astype(np.int64)
        kept = order[np.repeat(np.cumsum(counts) - taken - indptr[:-1], taken) + np.arange(indptr[-1])]
        del order
        kinds = pd.Index(list(names)).get_indexer(interactions["interaction_type"].to_numpy()[kept])
        return cls(
            indptr,
            interactions["item"].to_numpy(np.int32)[kept],
            kinds.astype(np.int8),
            times[kept],
            list(names),
        )

    def of(self, row: int) -> list[tuple[int, str, datetime]]:
        """The user's events, newest first: (item, interaction type, time)."""
        start, stop = int(self.indptr[row]), int(self.indptr[row + 1])
        return [
            (int(self.items[i]), self.names[self.kinds[i]], datetime.fromtimestamp(int(self.times[i]), UTC))
            for i in range(stop - 1, start - 1, -1)
        ]
