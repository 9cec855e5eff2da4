from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recommender.data.data_loader import load_catalog, load_interactions
from recommender.data.history import HistoryConfig, UserHistory
from recommender.models.collaborative import CollaborativeConfig, ItemItemModel
from recommender.models.popularity import Popularity

WEIGHTS = {"view": 1.0, "add_to_cart": 1.2, "purchase": 1.5}


def fitted(store):
    catalog = load_catalog(store[0])
    interactions = load_interactions(store[1], catalog, WEIGHTS)
    return catalog, UserHistory.build(interactions, len(catalog), HistoryConfig(WEIGHTS))


def history_of(matrix: np.ndarray) -> UserHistory:
    users, items = np.nonzero(matrix)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in users],
            "item": items.astype(np.int32),
            "interaction_type": "purchase",
            "ts": pd.Timestamp("2024-01-01"),
        }
    )
    return UserHistory.build(frame, matrix.shape[1], HistoryConfig(WEIGHTS))


def test_what_sells_with_the_users_item_comes_first(store):
    catalog, history = fitted(store)
    model = ItemItemModel().fit(history)
    items, weights = history.items_of("U5")  # only the red mug, which sells with the beans
    got, scores = model.recommend(items, weights, 3)
    assert catalog.product_ids[got[0]] == "P4"
    assert catalog.position("P1") not in got
    assert np.all(np.diff(scores) <= 0)


def test_with_every_item_as_candidate_the_weights_are_eases():
    rng = np.random.default_rng(3)
    matrix = (rng.random((40, 8)) < 0.5).astype(float)
    lam = 5.0
    # EASE by its closed form: B = I - P diag(1/diag(P)), P = (X^T X + lambda I)^-1.
    p = np.linalg.inv(matrix.T @ matrix + lam * np.eye(8))
    ease = np.eye(8) - p / np.diag(p)
    model = ItemItemModel(CollaborativeConfig(neighbours=7, candidates=7, regularization=lam))
    model.fit(history_of(matrix))
    for j in range(8):
        targets, weights = model.neighbours.of(j)
        expected = {i: ease[j, i] for i in range(8) if i != j and ease[j, i] > 0}
        assert dict(zip(targets.tolist(), weights.tolist(), strict=True)) == pytest.approx(expected, rel=1e-4)


def test_history_strength_takes_the_strongest_type_and_fades_with_age(tmp_path, store):
    catalog = load_catalog(store[0])
    path = tmp_path / "i.csv"
    path.write_text(
        "user_id,product_id,interaction_type,ts\n"
        "A,P1,view,2024-07-01\n"
        "A,P1,purchase,2024-01-01\n"  # strongest type, but 182 days before A's latest
        "A,P2,view,2024-07-01\n"
        "A,P3,add_to_cart,2024-06-01\n"
    )
    history = UserHistory.build(
        load_interactions(path, catalog, WEIGHTS), len(catalog), HistoryConfig(WEIGHTS)
    )
    items, weights = history.items_of("A")
    strength = dict(zip(catalog.product_ids[items], weights.tolist(), strict=True))
    fade = 0.3 + 0.7 * np.exp(-30 / 90)
    assert strength == pytest.approx({"P1": 1.0, "P2": 1.0 / 1.5, "P3": 1.2 / 1.5 * fade}, rel=1e-5)
    assert catalog.product_ids[history.last_item_of("A")] in ("P1", "P2")
    assert history.items_of("nobody")[0].size == 0 and history.last_item_of("nobody") is None


def test_recency_is_measured_from_each_users_latest_activity(tmp_path, store):
    catalog = load_catalog(store[0])
    path = tmp_path / "i.csv"
    path.write_text(
        "user_id,product_id,interaction_type,ts\n"
        "old,P1,purchase,2020-01-01\nold,P2,purchase,2020-04-10\n"  # 100 days apart, years ago
        "new,P1,purchase,2024-01-01\nnew,P2,purchase,2024-04-10\n"
    )
    history = UserHistory.build(
        load_interactions(path, catalog, WEIGHTS), len(catalog), HistoryConfig(WEIGHTS)
    )
    assert history.items_of("old")[1].tolist() == pytest.approx(history.items_of("new")[1].tolist())
    assert history.items_of("old")[1][0] == pytest.approx(0.3 + 0.7 * np.exp(-100 / 90), rel=1e-5)


def test_no_history_means_no_collaborative_answer(store):
    _, history = fitted(store)
    model = ItemItemModel().fit(history)
    assert model.recommend(np.empty(0, np.int32), np.empty(0, np.float32), 5)[0].size == 0
    empty = UserHistory({}, sp.csr_matrix((0, 4), dtype=np.float32), np.empty(0, np.int32))
    assert ItemItemModel().fit(empty).neighbours.of(0)[0].size == 0


def test_popularity_counts_distinct_users_and_keeps_catalog_order_on_ties(store):
    catalog, history = fitted(store)
    popularity = Popularity().fit(history)
    items, scores = popularity.recommend(7)
    assert list(catalog.product_ids[items]) == ["P1", "P4", "P3", "P2", "P5", "P6", "P7"]
    assert scores[0] == 1.0 and scores[-1] == 0.0
    items, _ = popularity.recommend(2, exclude=np.array([0]))
    assert list(catalog.product_ids[items]) == ["P4", "P3"]


def test_forked_workers_solve_the_same_regressions(monkeypatch, single_threaded):
    from sklearn.preprocessing import normalize

    from recommender.models import regression
    from recommender.models.neighbours import top_k_neighbours

    rng = np.random.default_rng(11)
    item_users = sp.random(60, 200, density=0.08, random_state=rng, format="csr", dtype=np.float32)
    item_users.data[:] = 1.0
    unit = normalize(item_users)
    candidates = top_k_neighbours(unit, unit, 20)
    serial = regression.neighbourhood_regression(item_users, candidates, 5.0, workers=1)
    monkeypatch.setattr(regression, "PARALLEL_ITEMS", 0)
    forked = regression.neighbourhood_regression(item_users, candidates, 5.0, workers=2)
    assert (serial != forked).nnz == 0 and serial.nnz > 0


def _skewed_item_users(seed: int) -> sp.csr_matrix:
    """80 items x 300 users, a few items far more popular than the rest."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, 81) ** 0.8
    taken = rng.random((80, 300)) < 0.3 * popularity[:, None] / popularity.max()
    return sp.csr_matrix(taken.astype(np.float32))


def test_cooccurrence_counts_agree_with_the_dense_product_both_ways(monkeypatch):
    from recommender.models import regression

    monkeypatch.setattr(regression, "HEAD_ITEMS", 6)
    item_users = _skewed_item_users(3)
    gram = regression._Cooccurrence(item_users, np.diff(item_users.indptr).astype(np.float64))
    dense = (item_users @ item_users.T).toarray()
    rest, block = np.array([40, 55, 79]), np.array([0, 3, 40, 41, 55, 60, 79])
    users = np.unique(item_users[rest].indices)
    assert np.array_equal(gram._users_of(np.array([0, 1])), np.unique(item_users[[0, 1]].indices))
    assert np.array_equal(gram._users_of(rest), users)  # nothing left over from the call before
    for local in (gram._from_histories(users, block), gram._from_user_lists(users, block)):
        assert local.shape == (len(users), len(block))
        counted = (local[:, np.searchsorted(block, rest)].T @ local).toarray()
        assert np.array_equal(counted, dense[np.ix_(rest, block)])
    # Two targets' predictors (-1 pads the second), head items among them: every pair's count.
    predictors = np.array([[0, 40, 3, 55, 79], [41, 1, 60, 40, -1]])
    valid = predictors >= 0
    assert (gram.head_pos[predictors[valid]] >= 0).any() and (gram.head_pos[predictors[valid]] < 0).any()
    for by_histories in (True, False):
        lengths = gram.history_lengths
        monkeypatch.setattr(gram, "history_lengths", lengths * 0 if by_histories else lengths + 10**9)
        pairs = gram.pairs(predictors, valid)
        for t in range(2):
            p = predictors[t]
            want = dense[np.ix_(p, p)] * (valid[t][:, None] & valid[t][None, :])
            assert np.array_equal(pairs[t], want), (by_histories, t)


def test_regression_with_a_small_head_solves_each_item_on_its_own_candidates(monkeypatch):
    """Pairs outside the dense head are counted per batch: the weights are the dense solution's."""
    from sklearn.preprocessing import normalize

    from recommender.models import regression
    from recommender.models.neighbours import top_k_neighbours

    monkeypatch.setattr(regression, "HEAD_ITEMS", 5)
    monkeypatch.setattr(regression, "BLOCK_ITEMS", 64)
    item_users = _skewed_item_users(5)
    unit = normalize(item_users)
    candidates = top_k_neighbours(unit, unit, 12)
    weights = regression.neighbourhood_regression(item_users, candidates, 4.0, workers=1).toarray()
    gram = (item_users @ item_users.T).toarray().astype(np.float64)
    for i in range(item_users.shape[0]):
        predictors = candidates.indices[i][candidates.indices[i] >= 0]
        system = gram[np.ix_(predictors, predictors)] + 4.0 * np.eye(len(predictors))
        solved = np.linalg.solve(system, gram[predictors, i])
        expected = np.where(solved > 0, solved, 0.0)
        assert np.allclose(weights[predictors, i], expected, atol=1e-4), i
    assert (weights > 0).sum() > 100


def test_last_item_is_of_the_latest_row_and_of_ties_the_last_in_the_log():
    frame = pd.DataFrame(
        {
            "user_id": ["A", "B", "A", "A", "B", "B"],
            "item": np.array([2, 1, 0, 3, 0, 1], np.int32),
            "interaction_type": ["view", "view", "view", "view", "view", "purchase"],
            "ts": pd.to_datetime(
                ["2024-01-05", "2024-01-01", "2024-01-03", "2024-01-05", "2024-01-02", "2023-12-01"]
            ),
        }
    )
    history = UserHistory.build(frame, 4, HistoryConfig(WEIGHTS))
    assert history.last_item.tolist() == [3, 0]
    items, strength = history.items_of("B")
    # B's item 1: its strongest type (a purchase) at its latest time (a view, a day before B's last)
    assert dict(zip(items.tolist(), strength.tolist(), strict=True)) == pytest.approx(
        {0: 1.0 / 1.5, 1: 0.3 + 0.7 * np.exp(-1 / 90)}, rel=1e-5
    )
    empty = UserHistory.build(frame.iloc[:0], 4, HistoryConfig(WEIGHTS))
    assert empty.n_users == 0 and empty.matrix.shape == (0, 4) and empty.last_item.size == 0


def test_histories_made_a_few_rows_at_a_time_are_those_made_at_once(monkeypatch):
    from recommender.data import history

    rng = np.random.default_rng(3)
    n = 400  # 30 users, 12 items, 5 days: many repeated pairs and ties in time
    frame = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in rng.integers(0, 30, n)],
            "item": rng.integers(0, 12, n).astype(np.int32),
            "interaction_type": rng.choice(["view", "add_to_cart", "purchase"], n),
            "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 5 * 24, n), unit="h"),
        }
    )
    whole = UserHistory.build(frame, 12, HistoryConfig(WEIGHTS), recent=True)
    monkeypatch.setattr(history, "BLOCK", 7)
    blocks = UserHistory.build(frame, 12, HistoryConfig(WEIGHTS), recent=True)
    assert blocks.user_index == whole.user_index
    assert (blocks.matrix != whole.matrix).nnz == 0 and whole.matrix.nnz > 100
    assert blocks.last_item.tolist() == whole.last_item.tolist()
    assert all(blocks.recent.of(row) == whole.recent.of(row) for row in range(30))
    # and both are right: the first user's pairs, worked out by hand
    user = frame["user_id"].iloc[0]
    first = frame[frame["user_id"] == user]
    latest = first["ts"].max()
    expected = {
        int(item): max(WEIGHTS[kind] for kind in rows["interaction_type"])
        / max(WEIGHTS.values())
        * (0.3 + 0.7 * np.exp(-((latest - rows["ts"].max()) / pd.Timedelta(days=1)) / 90))
        for item, rows in first.groupby("item")
    }
    items, strength = blocks.items_of(user)
    assert dict(zip(items.tolist(), strength.tolist(), strict=True)) == pytest.approx(expected, rel=1e-5)


def test_past_the_work_budget_each_product_has_fewer_possible_predictors(store, monkeypatch):
    from recommender.models import collaborative

    config = CollaborativeConfig(candidates=100, work=2_500_000_000)
    assert [config.candidates_for(n) for n in (3_000, 250_000, 500_000, 1_000_000)] == [100, 100, 70, 50]
    catalog, history = fitted(store)
    taken = int((np.diff(history.matrix.tocsc().indptr) > 0).sum())
    asked = []
    top_k = collaborative.top_k_neighbours
    spy = lambda left, right, k: asked.append(k) or top_k(left, right, k)  # noqa: E731
    monkeypatch.setattr(collaborative, "top_k_neighbours", spy)
    ItemItemModel(CollaborativeConfig(neighbours=4, candidates=5, work=4 * taken)).fit(history)
    assert asked[0] == 2  # the candidates: isqrt(work / taken products) = isqrt(4)
    ItemItemModel(CollaborativeConfig(neighbours=4, candidates=5)).fit(history)
    assert asked[2] == 5  # a small store: all of them
