from __future__ import annotations

import numpy as np

from recommender.collaborative import ItemKNN
from recommender.data_loader import load_catalog, load_interactions
from recommender.history import UserHistory
from recommender.popularity import Popularity

WEIGHTS = {"view": 1.0, "add_to_cart": 3.0, "purchase": 5.0}


def fitted(store):
    catalog = load_catalog(store[0])
    history = UserHistory.build(load_interactions(store[1], catalog, WEIGHTS), len(catalog), WEIGHTS)
    return catalog, history


def test_what_sells_with_the_users_item_comes_first(store):
    catalog, history = fitted(store)
    model = ItemKNN().fit(history)
    items, weights = history.items_of("U5")  # only the red mug, which sells with the beans
    got, scores = model.recommend(items, weights, 3)
    assert catalog.product_ids[got[0]] == "P4"
    assert catalog.position("P1") not in got
    assert np.all(np.diff(scores) <= 0)


def test_history_weights_repeated_rows_and_types(store):
    catalog, history = fitted(store)
    items, weights = history.items_of("U2")  # P1 viewed and bought, P4 bought
    got = dict(zip(catalog.product_ids[items], weights, strict=True))
    assert np.isclose(got["P1"], np.log1p(6.0)) and np.isclose(got["P4"], np.log1p(5.0))
    assert catalog.product_ids[history.last_item_of("U6")] == "P3"
    assert history.items_of("nobody")[0].size == 0 and history.last_item_of("nobody") is None


def test_no_history_means_no_collaborative_answer(store):
    _, history = fitted(store)
    model = ItemKNN().fit(history)
    assert model.recommend(np.empty(0, np.int32), np.empty(0, np.float32), 5)[0].size == 0


def test_popularity_counts_distinct_users_and_keeps_catalog_order_on_ties(store):
    catalog, history = fitted(store)
    popularity = Popularity().fit(history)
    items, scores = popularity.recommend(7)
    assert list(catalog.product_ids[items]) == ["P1", "P4", "P3", "P2", "P5", "P6", "P7"]
    assert scores[0] == 1.0 and scores[-1] == 0.0
    items, _ = popularity.recommend(2, exclude=np.array([0]))
    assert list(catalog.product_ids[items]) == ["P4", "P3"]
