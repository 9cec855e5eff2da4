"""Features of candidate pairs on a tiny hand-made case whose values are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.data.snapshot import ItemStats
from recommender.ranking.candidates import SOURCES, Pool
from recommender.ranking.features import NAMES, ProductFacts, UserFacts, blend_scores, features

NAN = float("nan")


def test_features_of_two_candidates_of_one_user():
    # Four products: 0 and 1 in category "a" at 10, 2 in "b" at 20, 3 with neither.
    products = ProductFacts.of(np.array(["a", "a", "b", ""], dtype=object), np.array([10, 10, 20, NAN]))
    items = ItemStats(
        age_days=np.array([100, 50, NAN, 3], np.float32),
        users=np.array([9, 4, 0, 1], np.float32),
        recent_users=np.array([2, 1, 0, 1], np.float32),
        trend=np.array([1, 1, 1, 5], np.float32),
        log_days=120.0,
    )
    holdings = sp.csr_matrix(np.array([[1.0, 0.5, 0, 0]], np.float32))  # the user has 0 and 1
    scores = np.zeros((2, len(SOURCES)), np.float32)
    ranks = np.full((2, len(SOURCES)), np.nan, np.float32)
    scores[0, SOURCES.index("collaborative")], ranks[0, SOURCES.index("collaborative")] = 0.8, 1
    scores[0, SOURCES.index("text")], ranks[0, SOURCES.index("text")] = 0.2, 2
    scores[1, SOURCES.index("text")], ranks[1, SOURCES.index("text")] = 0.4, 1
    candidates = Pool(np.array([0, 0]), np.array([2, 3], np.int32), scores, ranks)

    x = features(
        candidates, holdings, UserFacts(np.array([7], np.float32), np.array([4], np.float32)), items, products
    )
    got = [dict(zip(NAMES, row.tolist(), strict=True)) for row in x]

    assert x.shape == (2, len(NAMES)) and x.dtype == np.float32
    assert got[0]["collaborative_score"] == np.float32(0.8) and got[0]["collaborative_rank"] == 1
    assert math.isnan(got[1]["collaborative_rank"])
    assert got[0]["text_relative"] == 0.5 and got[1]["text_relative"] == 1.0  # 0.2 and 0.4 of the best 0.4
    assert got[0]["sources"] == 2 and got[1]["sources"] == 1
    assert math.isnan(got[0]["item_age_days"]) and got[1]["item_age_days"] == 3
    assert got[0]["log_days"] == 120
    assert got[1]["item_users"] == np.float32(math.log1p(1))
    assert got[1]["item_trend"] == 5
    assert got[0]["user_items"] == 2 and got[0]["user_strength"] == 0.75
    assert got[0]["user_events"] == 7 and got[0]["user_idle_days"] == 4
    assert got[0]["category_share"] == 0  # none of the user's two items is in "b"
    assert math.isnan(got[1]["category_share"])  # product 3 has no category
    assert got[0]["price_gap"] == np.float32(math.log(20) - math.log(10))  # twice the user's usual price
    assert math.isnan(got[1]["price_gap"])  # no price
    # The untrained blend: 0.9 x collaborative + 0.05 x text (each over the user's best of it).
    assert blend_scores(candidates).tolist() == pytest.approx([0.9 + 0.05 * 0.5, 0.05])


def test_category_share_counts_the_users_items_in_that_category():
    products = ProductFacts.of(np.array(["a", "a", "a", "b"], dtype=object), np.full(4, NAN))
    items = ItemStats(*(np.zeros(4, np.float32) for _ in range(4)), log_days=10.0)
    holdings = sp.csr_matrix(np.array([[1, 0, 0, 1.0]], np.float32))  # one "a", one "b"
    scores = np.zeros((2, len(SOURCES)), np.float32)
    candidates = Pool(np.array([0, 0]), np.array([1, 2], np.int32), scores, np.full_like(scores, np.nan))
    x = features(
        candidates, holdings, UserFacts(np.ones(1, np.float32), np.ones(1, np.float32)), items, products
    )
    assert x[:, NAMES.index("category_share")].tolist() == [0.5, 0.5]
