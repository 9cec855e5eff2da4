from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recommender.evaluation.metrics import ranking_metrics, temporal_split


def test_metrics_match_hand_computed_values():
    recommended = [np.array([1, 2, 3]), np.array([4, 5, 6])]
    truth = [np.array([2, 5]), np.array([4])]
    new_items = np.zeros(10, dtype=bool)
    new_items[[2, 5, 6]] = True
    got = ranking_metrics(recommended, truth, k=3, n_items=10, new_items=new_items)
    # User 1: one hit at rank 2 of two relevant; user 2: one hit at rank 1 of one relevant.
    ndcg_1 = (1 / np.log2(3)) / (1 + 1 / np.log2(3))
    assert got["precision"] == pytest.approx((1 / 3 + 1 / 3) / 2)
    assert got["recall"] == pytest.approx((1 / 2 + 1) / 2)
    assert got["ndcg"] == pytest.approx((ndcg_1 + 1.0) / 2)
    assert got["map"] == pytest.approx(((1 / 2) / 2 + 1.0) / 2)
    assert got["hit_rate"] == 1.0
    assert got["coverage"] == pytest.approx(6 / 10)
    assert got["users"] == 2
    assert (got["new_item_shown"], got["new_item_hits"]) == (3, 1)


def test_short_lists_and_misses():
    got = ranking_metrics(
        [np.array([7]), np.array([], dtype=int)], [np.array([1]), np.array([2])], k=5, n_items=8
    )
    assert got["precision"] == 0 and got["ndcg"] == 0 and got["hit_rate"] == 0
    assert got["coverage"] == pytest.approx(1 / 8)


def test_ideal_dcg_is_capped_at_k():
    got = ranking_metrics([np.array([0, 1])], [np.array([0, 1, 2, 3, 4])], k=2, n_items=5)
    assert got["ndcg"] == pytest.approx(1.0) and got["map"] == pytest.approx(1.0)
    assert got["recall"] == pytest.approx(2 / 5)


def test_temporal_split_keeps_only_new_items_of_returning_users():
    ts = pd.to_datetime
    frame = pd.DataFrame(
        {
            "user_id": ["A", "A", "A", "A", "B", "C", "C"],
            "item": np.array([0, 1, 1, 2, 3, 0, 0], dtype=np.int32),
            "interaction_type": "purchase",
            "ts": ts(
                [
                    "2024-01-01",
                    "2024-01-02",
                    "2024-03-01",
                    "2024-03-02",
                    "2024-03-01",
                    "2024-01-05",
                    "2024-03-05",
                ]
            ),
        }
    )
    split = temporal_split(frame, pd.Timestamp("2024-02-01"), n_items=5)
    assert len(split.train) == 3
    assert list(split.truth) == ["A"]  # B has no history before; C took nothing new after
    assert split.truth["A"].tolist() == [2]  # item 1 is a repeat, not new
    assert split.new_items.tolist() == [False, False, True, True, True]
    # Within 30 days of the cutoff: A's item 2 (taken 30 days after it) is out, so A is no test user.
    short = temporal_split(frame, pd.Timestamp("2024-02-01"), n_items=5, horizon_days=30)
    assert len(short.train) == 3 and short.truth == {}
    longer = temporal_split(frame, pd.Timestamp("2024-02-01"), n_items=5, horizon_days=31)
    assert longer.truth["A"].tolist() == [2]
