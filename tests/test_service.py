"""The contract every answer keeps, run over every way of answering; then each one's known answers."""

from __future__ import annotations

import copy
import math
import weakref
from pathlib import Path

import numpy as np
import pytest

from config import AB_STRATEGIES
from recommender.errors import UnknownProductError
from recommender.models import neighbours
from recommender.models.neighbours import empty_lists
from recommender.serving import artifacts, service
from recommender.serving.service import STRATEGIES, ModelSettings, Recommender, model_version
from tests.helpers import synthetic_store

DEMO = Path(__file__).resolve().parent.parent / "data"
OWNED = {"U1": {"P1", "P4"}, "U4": {"P3", "P5"}, "U5": {"P1"}, "U6": {"P2", "P3"}, "stranger": set()}

ANSWERS = {
    "similar": lambda m, user, k: m.similar("P1", k),
    "for_user": lambda m, user, k: m.for_user(user, k),
    "hybrid_user_and_product": lambda m, user, k: m.hybrid(user, "P2", k),
    "hybrid_user_only": lambda m, user, k: m.hybrid(user, None, k),
    "hybrid_cf_and_product": lambda m, user, k: m.hybrid(user, "P2", k, w_content=0.0, w_cf=1.0),
    "ab_content": lambda m, user, k: m.by_strategy("content", user, None, k),
    "ab_hybrid": lambda m, user, k: m.by_strategy("hybrid", user, "P2", k),
    "ab_collaborative": lambda m, user, k: m.by_strategy("collaborative", user, None, k),
    "ab_popularity": lambda m, user, k: m.by_strategy("popularity", user, None, k),
    "ab_ranked": lambda m, user, k: m.by_strategy("ranked", user, None, k),
    "ranked_and_product": lambda m, user, k: m.by_strategy("ranked", user, "P2", k),
}
# Answers for a user leave out what the user has; `similar` is about a product, not a user.
PERSONAL = set(ANSWERS) - {"similar"}


@pytest.mark.parametrize("answer", ANSWERS)
@pytest.mark.parametrize("user", OWNED)
@pytest.mark.parametrize("k", [1, 3, 5])
def test_contract(model, answer, user, k):
    results = ANSWERS[answer](model, user, k)
    ids = [r.product_id for r in results]
    scores = [r.score for r in results]
    context = (
        {"P1"}
        if answer == "similar"
        else {"P2"}
        if "and_product" in answer or answer == "ab_hybrid"
        else set()
    )
    available = 7 - len(context | (OWNED[user] if answer in PERSONAL else set()))
    assert len(results) == min(k, available), "short lists are filled up to what the catalog allows"
    assert len(set(ids)) == len(ids)
    assert all(math.isfinite(s) for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert all(r.title == model.catalog.titles[model.catalog.position(r.product_id)] for r in results)
    if answer in PERSONAL:
        assert not OWNED[user] & set(ids)
    assert not context & set(ids)


def test_the_contract_covers_every_strategy():
    assert {f"ab_{name}" for name in STRATEGIES} <= set(ANSWERS)
    assert STRATEGIES == AB_STRATEGIES  # every strategy may be an A/B variant


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("product", [None, "S5"])
def test_contract_on_a_store_with_a_trained_ranker(tmp_path, strategy, product):
    model = _trained(tmp_path)
    for user in ("V0", "V7", "V123", "stranger"):
        items, _ = model.history.items_of(user)
        owned = {model.catalog.product_ids[i] for i in items}
        results = model.by_strategy(strategy, user, product, 12)
        ids = [r.product_id for r in results]
        scores = [r.score for r in results]
        assert len(ids) == 12 and len(set(ids)) == 12
        assert all(math.isfinite(s) for s in scores) and scores == sorted(scores, reverse=True)
        assert not owned & set(ids)
        if product is not None:
            assert product not in ids
    with pytest.raises(UnknownProductError):
        model.by_strategy(strategy, "V0", "no-such-product", 3)


_TRAINED: dict[str, Recommender] = {}


def _trained(tmp_path) -> Recommender:
    """One synthetic store with a trained ranker, built once for the contract tests."""
    if "model" not in _TRAINED:
        _TRAINED["model"] = Recommender.from_csv(*synthetic_store(tmp_path))
        assert _TRAINED["model"].ranked is not None
    return _TRAINED["model"]


def test_similar_finds_the_other_mug_and_fills_with_best_sellers(model):
    assert model.similar("P1", 1)[0].product_id == "P2"
    results = model.similar("P7", 3)  # shares no word with anything
    assert [r.product_id for r in results] == ["P1", "P4", "P3"]
    assert [r.score for r in results] == [0.0, 0.0, 0.0]


def test_for_user_ranks_what_sells_with_their_items(model):
    assert model.for_user("U5", 1)[0].product_id == "P4"


def test_unknown_user_gets_best_sellers(model):
    results = model.for_user("nobody", 3)
    assert [r.product_id for r in results] == ["P1", "P4", "P3"]
    assert results[0].score == 1.0


def test_hybrid_for_a_new_user_is_content_plus_popularity(model):
    results = model.hybrid(None, "P2", 2, w_content=1.0, w_cf=0.0)
    assert results[0].product_id == "P1"  # the other mug
    assert "P2" not in [r.product_id for r in model.hybrid("nobody", "P2", 6)]


def test_content_variant_uses_the_users_items_text(model):
    # U5 has the red mug only: the closest text is the blue mug.
    assert model.by_strategy("content", "U5", None, 1)[0].product_id == "P2"
    # With a product, it answers like the content route, less the user's items.
    like_mug = [r.product_id for r in model.similar("P2", 6) if r.product_id != "P1"]
    assert [r.product_id for r in model.by_strategy("content", "U5", "P2", 3)] == like_mug[:3]


def test_unknown_product_raises(model):
    for call in (lambda: model.similar("P9", 3), lambda: model.hybrid("U1", "P9", 3)):
        with pytest.raises(UnknownProductError, match="P9"):
            call()


def test_unknown_strategy_raises(model):
    with pytest.raises(ValueError, match="unknown strategy"):
        model.by_strategy("magic", "U1", None, 3)


def test_model_version_follows_inputs_and_settings(store, tmp_path):
    products, interactions = store
    a = model_version(products, interactions, ModelSettings())
    assert a == model_version(products, interactions, ModelSettings())
    assert a != model_version(products, interactions, ModelSettings(neighbours=5))
    interactions.write_text(interactions.read_text() + "U9,P1,view,2024-02-01T00:00:00\n")
    assert a != model_version(products, interactions, ModelSettings())


def test_a_store_without_history_still_answers(store):
    products, interactions = store
    interactions.write_text("user_id,product_id,interaction_type,ts\n")
    model = Recommender.from_csv(products, interactions)
    assert [r.product_id for r in model.for_user("U1", 2)] == ["P1", "P2"]
    assert model.similar("P1", 1)[0].product_id == "P2"
    assert len(model.hybrid("U1", None, 3)) == 3


def test_answers_computed_at_request_time_equal_the_precomputed_ones(model):
    users = ["U1", "U4", "U5", "U6"]

    def answers():  # type: ignore[no-untyped-def]
        return [
            (
                model.for_user(u, 4),
                model.hybrid(u, "P2", 4),
                model.hybrid(u, None, 4),
                model.content_for(u, None, 4),
            )
            for u in users
        ]

    before = answers()
    nothing_kept = empty_lists(model.history.n_users)
    model.user_cf = model.user_text = model.user_hybrid = nothing_kept  # all summed at request time now
    assert answers() == before


def test_over_text_lists_max_users_text_profiles_are_summed_per_request_with_the_same_answers(
    store, tmp_path, monkeypatch
):
    monkeypatch.setattr(service, "CHUNK_ROWS", 2)  # the hybrid lists blend several chunks of users
    monkeypatch.setattr(neighbours, "CHUNK_ROWS", 2)
    kept = Recommender.from_csv(*store, ModelSettings(neighbours=10, ranker=False))
    summed = Recommender.from_csv(*store, ModelSettings(neighbours=10, ranker=False, text_lists_max_users=3))
    assert kept.history.n_users > 3
    assert kept.user_text.table.k > 0 and summed.user_text.table.k == 0
    users = list(kept.history.user_index)

    def answers(model: Recommender) -> list:
        return [
            (model.content_for(u, None, 4), model.hybrid(u, "P2", 4), model.hybrid(u, None, 4)) for u in users
        ]

    assert answers(summed) == answers(kept)
    np.testing.assert_array_equal(summed.user_hybrid.table.indices, kept.user_hybrid.table.indices)
    np.testing.assert_array_equal(summed.user_hybrid.table.scores, kept.user_hybrid.table.scores)
    loaded = artifacts.load(artifacts.save(summed, tmp_path))
    assert loaded.user_text.table.k == 0 and answers(loaded) == answers(kept)


def test_text_profile_lists_are_kept_for_a_ranker_to_train_on_whatever_the_store_size(store):
    model = Recommender.from_csv(*store, ModelSettings(neighbours=10, text_lists_max_users=3))
    assert model.history.n_users > 3 and model.user_text.table.k > 0


def test_precomputed_hybrid_lists_equal_the_request_time_blend_on_the_demo_store(demo_model):
    model = copy.copy(demo_model)  # shared by other tests: change only this copy
    users = list(model.history.user_index)[::10]
    before = [model.hybrid(u, None, 10) for u in users]
    model.user_hybrid = empty_lists(model.history.n_users)
    after = [model.hybrid(u, None, 10) for u in users]
    assert [[r.product_id for r in a] for a in after] == [[r.product_id for r in b] for b in before]
    scores_after = [r.score for answer in after for r in answer]
    assert scores_after == pytest.approx([r.score for answer in before for r in answer], abs=2e-6)


def test_hybrid_without_a_product_beyond_the_precomputed_length_is_blended_at_request_time(store):
    model = Recommender.from_csv(*store, ModelSettings(neighbours=8))  # keeps 8 // 4 = 2 per user
    assert model.user_hybrid.table.k == 2
    short, long = model.hybrid("U1", None, 2), model.hybrid("U1", None, 4)
    model.user_hybrid = empty_lists(model.history.n_users)
    assert model.hybrid("U1", None, 4) == long
    assert model.hybrid("U1", None, 2) == short == long[:2]


@pytest.mark.parametrize(
    ("settings", "kept"), [(ModelSettings(ranker=False), False), (ModelSettings(), True)]
)
def test_the_log_is_let_go_once_the_histories_are_made_unless_a_ranker_trains_on_it(
    store, monkeypatch, settings, kept
):
    logs, alive = [], []
    load, content_fit = service.load_interactions, service.ContentModel.fit

    def remembered_load(*args):  # type: ignore[no-untyped-def]
        frame = load(*args)
        logs.append(weakref.ref(frame))
        return frame

    def content_fit_noting(self, catalog):  # type: ignore[no-untyped-def]  # the first fit after the histories
        alive.append(logs[0]() is not None)
        return content_fit(self, catalog)

    monkeypatch.setattr(service, "load_interactions", remembered_load)
    monkeypatch.setattr(service.ContentModel, "fit", content_fit_noting)
    model = Recommender.from_csv(*store, settings)
    assert alive == [kept]
    assert model.built["interactions"] > 0 and model.for_user("U1", 2)
