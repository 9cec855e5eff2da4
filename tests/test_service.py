"""The contract every strategy keeps (strategies.Strategy), run over each of them and the other
answers; then each one's known answers."""

from __future__ import annotations

import copy
import gc
import math
import weakref
from pathlib import Path

import numpy as np
import pytest

from config import AB_STRATEGIES
from recommender.data.data_loader import Catalog
from recommender.errors import UnknownProductError
from recommender.models import neighbours
from recommender.models.lists_on_disk import ListsOnDisk
from recommender.models.neighbours import empty_lists
from recommender.models.popularity import Popularity
from recommender.serving import artifacts, fitting, service, strategies
from recommender.serving.live_catalog import BEST_SELLERS_READ, LiveCatalog
from recommender.serving.service import STRATEGIES, ModelSettings, Recommender, model_version
from recommender.serving.shelf import Filter, Request, shelve
from recommender.serving.strategies import Strategy
from recommender.storage.catalog_changes import Product
from recommender.storage.inputs import CsvInputs
from tests.helpers import synthetic_store

DEMO = Path(__file__).resolve().parent.parent / "data"
OWNED = {"U1": {"P1", "P4"}, "U4": {"P3", "P5"}, "U5": {"P1"}, "U6": {"P2", "P3"}, "stranger": set()}

# Answers beside the strategies' own: a product's text neighbours, and the hybrid at other weights.
ANSWERS = {
    "similar": lambda m, user, k: m.similar("P1", k),
    "hybrid_cf_and_product": lambda m, user, k: m.hybrid(user, "P2", k, w_content=0.0, w_cf=1.0),
    "hybrid_content_only": lambda m, user, k: m.hybrid(user, None, k, w_content=1.0, w_cf=0.0),
}
CONTEXT = {"similar": {"P1"}, "hybrid_cf_and_product": {"P2"}, "hybrid_content_only": set()}
N_PRODUCTS = 7


def keeps_the_contract(model, results, k, owned, context):
    """k results (or every product left), each once, best first, real titles; none the user has,
    none the product asked about."""
    ids = [r.product_id for r in results]
    scores = [r.score for r in results]
    assert len(results) == min(k, N_PRODUCTS - len(context | owned)), "short lists are filled up"
    assert len(set(ids)) == len(ids)
    assert all(math.isfinite(s) for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert all(r.title == model.catalog.titles[model.catalog.position(r.product_id)] for r in results)
    assert not owned & set(ids)
    assert not context & set(ids)


def test_every_strategy_implements_the_interface(model):
    assert tuple(model.strategies) == STRATEGIES
    assert all(isinstance(s, Strategy) and s.name == name for name, s in model.strategies.items())
    assert STRATEGIES == AB_STRATEGIES  # every strategy may be an A/B variant


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("product", [None, "P2"])
@pytest.mark.parametrize("user", OWNED)
@pytest.mark.parametrize("k", [1, 3, 5])
def test_contract(model, strategy, product, user, k):
    results = model.strategies[strategy].recommend(user, product, k)
    keeps_the_contract(model, results, k, OWNED[user], {product} - {None})
    assert results == model.by_strategy(strategy, user, product, k)  # the facade only dispatches
    rows = model.strategies[strategy].rows(user, product, k)  # the same answer, as rows
    assert results == model.recommendations(rows)
    assert results == model.recommendations(model.rows_by_strategy(strategy, user, product, k))
    assert [(r.product_id, r.score) for r in results] == model.named(rows)


@pytest.mark.parametrize("answer", ANSWERS)
@pytest.mark.parametrize("user", OWNED)
@pytest.mark.parametrize("k", [1, 3, 5])
def test_contract_of_the_other_answers(model, answer, user, k):
    owned = OWNED[user] if answer != "similar" else set()  # `similar` is about a product alone
    keeps_the_contract(model, ANSWERS[answer](model, user, k), k, owned, CONTEXT[answer])


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_refuses_an_unknown_product_and_takes_an_unknown_user(model, strategy):
    with pytest.raises(UnknownProductError, match="P9"):
        model.strategies[strategy].recommend("U1", "P9", 3)
    keeps_the_contract(model, model.strategies[strategy].recommend("nobody", None, 3), 3, set(), set())
    keeps_the_contract(model, model.strategies[strategy].recommend(None, "P2", 3), 3, set(), {"P2"})


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("user", OWNED)
def test_every_strategy_on_the_shelf_keeps_to_the_filters(model, strategy, user):
    live = LiveCatalog(model.catalog, model.text, model.popularity)
    answer = lambda n, product: model.rows_by_strategy(strategy, user, product, n)  # noqa: E731
    owned = lambda: model.items_of(user).tolist()  # noqa: E731
    kitchen = Filter(categories=frozenset({"kitchen"}))
    found = shelve(live, model, Request(answer, 5, kitchen, user_items=owned))
    ids = {r.product_id for r in found}
    assert ids == {"P1", "P2", "P3"} - OWNED[user], "only the category, refilled from within it"
    not_mugs = Filter(exclude=frozenset({"P1", "P2"}))
    found = shelve(live, model, Request(answer, 5, not_mugs, user_items=owned))
    assert len(found) == min(5, N_PRODUCTS - len({"P1", "P2"} | OWNED[user]))
    assert not {"P1", "P2"} & {r.product_id for r in found}


def test_a_filter_reads_the_answer_first_as_deep_as_the_categorys_share_needs(model):
    live = LiveCatalog(model.catalog, model.text, model.popularity)
    asked = []

    def answer(n, product):
        asked.append(n)
        return model.rows_by_strategy("collaborative", "U1", product, n)

    kitchen = frozenset({"kitchen"})  # P1, P2 and P3: 3 of the 7 products
    assert live.share(kitchen) == pytest.approx(3 / 7)
    shelve(live, model, Request(answer, 2, Filter(categories=kitchen)))
    assert asked[0] == math.ceil(2 * 2 / (3 / 7))  # about 2k of them: 10 read, not 4
    asked.clear()
    shelve(live, model, Request(answer, 2, Filter(exclude=frozenset({"P1"}))))
    assert asked == [2 * 2 + 1]  # no category: 2k, and one more for each product left out
    asked.clear()
    shelve(live, model, Request(answer, 2, Filter(categories=frozenset({"no such category"}))))
    assert asked == [100]  # as deep as the answer is read at all


def test_a_category_test_made_for_a_request_answers_as_in_categories(model):
    live = LiveCatalog(model.catalog, model.text, model.popularity)
    products = [*model.catalog.product_ids.tolist(), "NEW", "unknown"]
    wanted = frozenset({"kitchen", "toys"})
    unchanged = live.category_test(wanted)  # no product changed: the categories as built
    assert [unchanged(p) for p in products] == [live.in_categories(p, wanted) for p in products]
    assert [p for p in products if unchanged(p)] == ["P1", "P2", "P3"]
    live.apply([(1, Product("P1", "Mug", "Garden")), (2, Product("NEW", "Kite", "Toys"))])
    changed = live.category_test(wanted)  # P1 moved out, NEW came in
    assert [changed(p) for p in products] == [live.in_categories(p, wanted) for p in products]
    assert [p for p in products if changed(p)] == ["P2", "P3", "NEW"]


def test_best_sellers_within_categories_come_in_order_past_the_first_batch_read():
    n = 3 * BEST_SELLERS_READ + 5
    ids = [f"B{i}" for i in range(n)]
    catalog = Catalog(
        product_ids=np.array(ids, object),
        titles=np.array(ids, object),
        categories=np.array(["Kitchen" if i % 2 else "Garden" for i in range(n)], object),
        descriptions=np.array([""] * n, object),
        index={pid: i for i, pid in enumerate(ids)},
    )
    order = np.arange(n, dtype=np.int32)[::-1].copy()  # the last product sells best
    live = LiveCatalog(catalog, None, Popularity(order, np.linspace(1, 0.1, n, dtype=np.float32)))
    kitchen = [f"B{i}" for i in order.tolist() if i % 2]
    assert list(live.best_sellers(frozenset())) == [f"B{i}" for i in order.tolist()]
    assert list(live.best_sellers(frozenset({"kitchen"}))) == kitchen
    live.apply([(1, Product("B1", "Mug", "Garden")), (2, Product("B2", "Pan", "Kitchen"))])
    moved = [p for p in kitchen if p != "B1"] + ["B2"]  # one moved out; one moved in, after the rest
    assert list(live.best_sellers(frozenset({"kitchen"}))) == moved


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("product", [None, "S5"])
def test_contract_on_a_store_with_a_trained_ranker(tmp_path, strategy, product):
    model = _trained(tmp_path)
    for user in ("V0", "V7", "V123", "stranger"):
        items, _ = model.history.items_of(user)
        owned = {model.catalog.product_ids[i] for i in items}
        results = model.strategies[strategy].recommend(user, product, 12)
        ids = [r.product_id for r in results]
        scores = [r.score for r in results]
        assert len(ids) == 12 and len(set(ids)) == 12
        assert all(math.isfinite(s) for s in scores) and scores == sorted(scores, reverse=True)
        assert not owned & set(ids)
        if product is not None:
            assert product not in ids
    with pytest.raises(UnknownProductError):
        model.strategies[strategy].recommend("V0", "no-such-product", 3)


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


def test_hybrid_for_a_new_user_scales_the_popularity_of_the_similar_items_by_their_best(model):
    # Each part over its best: the similar items' text scores, then their sales (not best first).
    similar, text = model.similar_items.of(model.catalog.position("P1"))
    sales = model.popularity.scores[similar]
    assert sales[0] < sales.max()  # the part is not best first as it comes
    blended = 0.5 * text / text.max() + 0.5 * sales / sales.max()
    expected = sorted(zip(-blended, similar.tolist(), strict=True))[:3]

    results = model.hybrid(None, "P1", 3, w_content=0.5, w_cf=0.5)

    assert [r.product_id for r in results] == [model.catalog.product_ids[item] for _, item in expected]
    assert [r.score for r in results] == pytest.approx([-score for score, _ in expected], abs=1e-6)


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
    a = model_version(CsvInputs(products, interactions), ModelSettings())
    assert a == model_version(CsvInputs(products, interactions), ModelSettings())
    assert a != model_version(CsvInputs(products, interactions), ModelSettings(neighbours=5))
    interactions.write_text(interactions.read_text() + "U9,P1,view,2024-02-01T00:00:00\n")
    assert a != model_version(CsvInputs(products, interactions), ModelSettings())


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


def test_over_text_lists_max_users_text_profiles_are_made_on_disk_with_the_same_lists_and_answers(
    store, tmp_path, monkeypatch
):
    monkeypatch.setattr(strategies, "LIST_ROWS", 2)  # the hybrid lists blend several chunks of users
    monkeypatch.setattr(neighbours, "LIST_ROWS", 2)
    kept = Recommender.from_csv(*store, ModelSettings(neighbours=10, ranker=False))
    on_disk = Recommender.from_csv(*store, ModelSettings(neighbours=10, ranker=False, text_lists_max_users=3))
    assert kept.history.n_users > 3
    assert not isinstance(kept.user_text, ListsOnDisk) and isinstance(on_disk.user_text, ListsOnDisk)
    for made, held in ((on_disk.user_text, kept.user_text), (on_disk.user_hybrid, kept.user_hybrid)):
        np.testing.assert_array_equal(made.table.indices, held.table.indices)
        np.testing.assert_array_equal(made.table.scores, held.table.scores)
    users = list(kept.history.user_index)

    def answers(model: Recommender) -> list:
        return [
            (model.content_for(u, None, 4), model.hybrid(u, "P2", 4), model.hybrid(u, None, 4)) for u in users
        ]

    assert answers(on_disk) == answers(kept)
    saved = artifacts.save(on_disk, tmp_path)
    for part in ("indices", "scores"):  # the build's files, copied as they are
        assert (saved / f"user_text_{part}.npy").read_bytes() == on_disk.user_text.files[part].read_bytes()
    loaded = artifacts.load(saved)
    np.testing.assert_array_equal(loaded.user_text.table.indices, kept.user_text.table.indices)
    assert answers(loaded) == answers(kept)
    folder = on_disk.user_text.files["indices"].parent
    del on_disk, made, held
    gc.collect()
    assert not folder.exists()  # removed with the lists


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
    load, content_fit = service.load_interactions, fitting.ContentModel.fit

    def remembered_load(*args):  # type: ignore[no-untyped-def]
        frame = load(*args)
        logs.append(weakref.ref(frame))
        return frame

    def content_fit_noting(self, catalog):  # type: ignore[no-untyped-def]  # the first fit after the histories
        alive.append(logs[0]() is not None)
        return content_fit(self, catalog)

    monkeypatch.setattr(service, "load_interactions", remembered_load)
    monkeypatch.setattr(fitting.ContentModel, "fit", content_fit_noting)
    model = Recommender.from_csv(*store, settings)
    assert alive == [kept]
    assert model.built["interactions"] > 0 and model.for_user("U1", 2)
