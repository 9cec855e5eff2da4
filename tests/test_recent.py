from datetime import UTC, datetime

import numpy as np
import pandas as pd

from recommender.data.recent import RecentEvents


def test_keeps_each_users_latest_events_newest_first():
    frame = pd.DataFrame(
        {
            "user_id": ["A", "B", "A", "A", "B", "A"],
            "item": [1, 2, 3, 4, 5, 6],
            "interaction_type": ["view", "view", "purchase", "view", "add_to_cart", "view"],
            "ts": pd.to_datetime(
                ["2024-01-03", "2024-01-01", "2024-01-01", "2024-01-04", "2024-01-02", "2024-01-04"]
            ),
        }
    )
    names = ["view", "add_to_cart", "purchase"]
    users = np.array([0, 1, 0, 0, 1, 0], np.int32)  # A is row 0, B row 1, C (no events) row 2
    recent = RecentEvents.build(frame, users, 3, names, keep=3)
    day = lambda d: datetime(2024, 1, d, tzinfo=UTC)  # noqa: E731
    # A's two events at the same time keep the log's order (item 4 before 6); the oldest is left out.
    assert recent.of(0) == [(6, "view", day(4)), (4, "view", day(4)), (1, "view", day(3))]
    assert recent.of(1) == [(5, "add_to_cart", day(2)), (2, "view", day(1))]
    assert recent.of(2) == []  # a user without events
