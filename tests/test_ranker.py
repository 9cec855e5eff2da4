"""The ranker's training windows, its fallback, and the ranked strategy it serves."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from recommender.data.data_loader import load_catalog, load_interactions
from recommender.data.history import HistoryConfig
from recommender.evaluate import evaluate
from recommender.models.collaborative import ItemItemModel
from recommender.models.content_based import ContentModel
from recommender.models.neighbours import Neighbours, UserLists
from recommender.ranking.config import RankerConfig
from recommender.ranking.features import ProductFacts
from recommender.ranking.ranker import _choose
from recommender.ranking.windows import build_window, on_sale_from, window_starts
from recommender.serving import artifacts
from recommender.serving.service import ModelSettings, Recommender
from tests.helpers import synthetic_store

TYPES = ("view", "clicked", "add_to_cart", "purchase")


@pytest.fixture
def synthetic(tmp_path):
    return synthetic_store(tmp_path)


@pytest.fixture
def trained(synthetic) -> Recommender:
    model = Recommender.from_csv(*synthetic)
    assert model.ranked is not None, model.ranker_reason
    return model


def _window(rows, catalog, at, config):
    text = ContentModel().fit(catalog)
    products = ProductFacts.of(catalog.categories, catalog.prices)
    on_sale = on_sale_from(rows, len(catalog))
    collaborate = lambda history: ItemItemModel().fit(history).neighbours  # noqa: E731
    return build_window(
        rows, at, config, text.neighbours, text.vectors, products, collaborate, HistoryConfig(), on_sale,
        np.random.default_rng(0),
    )  # fmt: skip


def test_products_go_on_sale_at_their_first_interaction_or_from_the_start_if_never_sold():
    day = lambda d: np.datetime64(f"2024-01-{d:02d}", "ns")  # noqa: E731
    rows = pd.DataFrame({"item": [2, 0, 2, 0], "ts": [day(5), day(9), day(3), day(7)]})
    np.testing.assert_array_equal(on_sale_from(rows, 4), [day(7), day(3), day(3), day(3)])


def test_a_window_offers_products_never_sold_but_not_those_first_sold_after_it(synthetic):
    """The synthetic store's last four products were never sold; every tenth one was first sold
    in its last 20 days, after this window's end."""
    catalog = load_catalog(synthetic[0])
    rows = load_interactions(synthetic[1], catalog, TYPES)
    window = _window(rows, catalog, np.datetime64("2024-04-01", "ns"), RankerConfig(min_users=10))
    offered = set(window.items.tolist())
    assert {56, 57, 58, 59} <= offered
    assert not window.y[np.isin(window.items, [56, 57, 58, 59])].any()
    launched_later = set(range(9, 56, 10))
    assert offered.isdisjoint(launched_later)
    assert launched_later <= set(rows["item"])  # they were sold, later


def test_a_window_learns_only_from_before_it_and_labels_only_its_own_days(synthetic):
    catalog = load_catalog(synthetic[0])
    rows = load_interactions(synthetic[1], catalog, TYPES)
    config = RankerConfig(min_users=10)
    at = np.datetime64("2024-04-01", "ns")
    base = _window(rows, catalog, at, config)
    end = at + np.timedelta64(config.window_days, "D")
    # A user who takes something in the window anyway (so the window's users stay the same), and a
    # product of their category they never took.
    earlier = rows[rows["ts"] < at]
    held = set(zip(earlier["user_id"], earlier["item"], strict=True))
    active = rows[(rows["ts"] >= at) & (rows["ts"] < end)]
    labelled = {u for u, i in zip(active["user_id"], active["item"], strict=True) if (u, i) not in held}
    user = sorted(labelled & set(earlier["user_id"]))[0]
    taken = set(rows.loc[rows["user_id"] == user, "item"])
    item = next(i for i in range(int(user[1:]) % 4, len(catalog) - 4, 4) if i not in taken)
    planted = lambda when: pd.concat(  # noqa: E731
        [
            rows,
            pd.DataFrame({"user_id": [user], "item": [item], "interaction_type": ["purchase"], "ts": [when]}),
        ],
        ignore_index=True,
    )
    after = _window(planted(at + np.timedelta64(config.window_days + 5, "D")), catalog, at, config)
    np.testing.assert_array_equal(after.x, base.x)  # a purchase after the window changes nothing
    np.testing.assert_array_equal(after.y, base.y)
    inside = _window(planted(at + np.timedelta64(3, "D")), catalog, at, config)
    np.testing.assert_array_equal(inside.x, base.x)  # features are as of `at`
    assert inside.y.sum() == base.y.sum() + 1  # and the purchase in the window is one more label


def test_windows_end_before_the_data_does():
    config = RankerConfig()
    end, start = np.datetime64("2024-06-01", "ns"), np.datetime64("2024-01-01", "ns")
    moments = window_starts(end, start, config)
    assert len(moments) == config.windows
    assert all(m + np.timedelta64(config.window_days, "D") <= end for m in moments)
    assert all(m - start >= np.timedelta64(14, "D") for m in moments)


def test_a_purchase_after_the_cutoff_never_reaches_the_ranker(synthetic, tmp_path):
    """The evaluation trains on the rows before its cutoff only: a purchase planted after it
    leaves the ranker (its choice, held-out figures and every feature's gain) exactly as it was."""
    products, interactions = synthetic
    quiet = {"k": 10, "hybrid_weights": (0.1,), "baselines_on": False, "progress": lambda _: None}
    _, facts = evaluate(products, interactions, "2024-05-20", **quiet)
    planted = tmp_path / "planted.csv"
    planted.write_text(
        interactions.read_text() + "V1,S3,purchase,2024-05-25T10:00:00\nV2,S2,purchase,2024-05-21\n"
    )
    _, facts_planted = evaluate(products, planted, "2024-05-20", **quiet)
    before, after = facts["ranker"], facts_planted["ranker"]
    assert before["trained"], before["reason"]
    assert after["report"] == before["report"]
    assert after["importance"] == before["importance"]


def test_a_store_too_small_to_train_on_serves_the_blend_and_says_why(model):
    assert model.ranked is None
    assert "window" in model.ranker_reason
    assert model.user_strategy == "collaborative"
    for user, product in (("U5", None), ("U1", "P2"), ("stranger", None)):
        assert model.ranked_for(user, product, 3) == model.hybrid(user, product, 3)  # the untrained blend


def test_more_users_than_the_limit_train_no_ranker(synthetic):
    model = Recommender.from_csv(*synthetic, ModelSettings(ranker_max_users=399))
    assert model.ranked is None and "limited to 399 users (RANKER_MAX_USERS)" in model.ranker_reason
    assert model.ranked_for("V1", None, 5) == model.hybrid("V1", None, 5)


def test_the_trained_ranker_is_the_default_for_users(trained):
    assert trained.user_strategy == "ranked"
    assert trained.ranked.ranker.objective in ("binary", "lambdarank")
    report = trained.ranked.ranker.report
    assert report["held_out_ndcg"][report["objective"]] > report["held_out_blend_ndcg"]


def test_ranked_lists_from_the_build_equal_ranking_at_request_time(trained):
    users = list(trained.history.user_index)[::25]
    built = [trained.ranked_for(u, None, 10) for u in users]
    now = copy.copy(trained)
    empty = (trained.history.n_users, 0)
    now.ranked = copy.copy(trained.ranked)
    now.ranked.lists = UserLists(Neighbours(np.empty(empty, np.int32), np.empty(empty, np.float32)))
    ranked_now = [now.ranked_for(u, None, 10) for u in users]
    assert [[r.product_id for r in a] for a in ranked_now] == [[r.product_id for r in b] for b in built]


def test_the_users_latest_item_as_the_product_gives_the_users_list(trained):
    """The build ranked each user's candidates around their latest item: asked with it, the
    answer is that list (a lookup), the same as ranking them now."""
    for user in list(trained.history.user_index)[::40]:
        latest = trained.catalog.product_ids[trained.history.last_item_of(user)]
        assert trained.ranked_for(user, latest, 10) == trained.ranked_for(user, None, 10)
        now = copy.copy(trained)
        now.ranked = copy.copy(trained.ranked)
        empty = (trained.history.n_users, 0)
        now.ranked.lists = UserLists(Neighbours(np.empty(empty, np.int32), np.empty(empty, np.float32)))
        assert [r.product_id for r in now.ranked_for(user, latest, 10)] == [
            r.product_id for r in trained.ranked_for(user, latest, 10)
        ]


def test_a_product_to_start_from_changes_the_answer_and_is_never_returned(trained):
    user = "V1"
    plain = [r.product_id for r in trained.ranked_for(user, None, 10)]
    anchor = plain[0]
    started = [r.product_id for r in trained.ranked_for(user, anchor, 10)]
    assert anchor not in started
    assert len(started) == 10


def test_a_shopper_without_any_item_gets_the_best_sellers_not_the_ranker(trained):
    """The ranker learns from shoppers with a history: one the service has never seen, and a new
    one with no event yet, are served what the collaborative strategy serves them."""
    best_sellers = [r.product_id for r in trained.for_user("nobody", 10)]
    assert [r.product_id for r in trained.ranked_for("nobody", None, 10)] == best_sellers
    assert [r.product_id for r in trained.by_strategy("ranked", None, None, 10)] == best_sellers
    assert len(trained.ranked_for("nobody", "S1", 10)) == 10  # with a product at hand, the ranker ranks


def test_new_products_reach_buyers_through_the_ranked_lists(trained):
    """Products launched in the last weeks (every tenth) come up for users of their category."""
    new = {f"S{p}" for p in range(9, 56, 10)}
    shown = [r.product_id for u in list(trained.history.user_index) for r in trained.ranked_for(u, None, 10)]
    assert new & set(shown)


def test_round_trip_through_artifacts_keeps_the_ranker_and_its_answers(trained, tmp_path):
    # The ranked strategy's collaborative and text lists are the model's own, held and saved once.
    assert trained.ranked.personal["collaborative"] is trained.user_cf
    assert trained.ranked.personal["text"] is trained.user_text
    folder = artifacts.save(trained, tmp_path)
    assert not (folder / "ranked_user_text_indices.npy").exists()
    assert (folder / "ranked_user_new_indices.npy").exists()
    loaded = artifacts.load(folder)
    assert loaded.ranked.personal["collaborative"] is loaded.user_cf
    assert loaded.ranked is not None and loaded.ranker_reason == trained.ranker_reason == "trained"
    assert loaded.ranked.ranker.booster.model_to_string() == trained.ranked.ranker.booster.model_to_string()
    for user, product in (("V3", None), ("V3", "S4"), ("stranger", None), ("stranger", "S4")):
        assert loaded.ranked_for(user, product, 8) == trained.ranked_for(user, product, 8)


def test_lambdarank_replaces_binary_only_when_clearly_better_on_the_held_out_users():
    rng = np.random.default_rng(1)
    binary = rng.uniform(0, 0.4, 500)
    noise = rng.normal(0, 0.05, 500)
    assert _choose({"binary": binary, "lambdarank": binary + noise + 0.001}) == "binary"
    assert _choose({"binary": binary, "lambdarank": binary + noise + 0.02}) == "lambdarank"
    assert _choose({"binary": binary}) == "binary"
