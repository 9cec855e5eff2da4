"""Candidates: every source brings some, none is owned, none repeats, and absent products never come."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.data.data_loader import load_catalog, load_interactions
from recommender.data.snapshot import Snapshot
from recommender.models.collaborative import ItemItemModel
from recommender.models.content_based import ContentModel
from recommender.ranking.candidates import SIZES, SOURCES, NearestNew, Sources, nearest_new, pool
from tests.helpers import synthetic_store

TYPES = ("view", "clicked", "add_to_cart", "purchase")


@pytest.fixture
def scene(tmp_path):
    products, interactions = synthetic_store(tmp_path, users=120, products=40, days=90)
    catalog = load_catalog(products)
    rows = load_interactions(interactions, catalog, TYPES)
    snap = Snapshot.build(rows, len(catalog), rows["ts"].max() + np.timedelta64(1, "s"))
    text = ContentModel().fit(catalog)
    collaborative = ItemItemModel().fit(snap.history).neighbours
    return catalog, snap, text, collaborative


def test_every_source_contributes_and_nothing_owned_or_repeated(scene):
    catalog, snap, text, collaborative = scene
    sources = Sources.build(text.neighbours, collaborative, text.vectors, snap.items, snap.exists)
    candidates = pool(sources, snap.history.matrix, snap.history.last_item)
    keys = candidates.rows * len(catalog) + candidates.items
    assert len(np.unique(keys)) == len(keys), "each (user, product) once"
    owned = snap.history.matrix[candidates.rows, candidates.items]
    assert not np.asarray(owned).any(), "never a product the user has"
    for s, name in enumerate(SOURCES):
        brought = candidates.scores[:, s] > 0
        assert brought.any(), f"{name} brought nothing"
        ranks = candidates.ranks[brought, s]
        assert ranks.min() >= 1 and ranks.max() <= SIZES[name]
        assert np.isnan(candidates.ranks[~brought, s]).all()


def test_products_that_do_not_exist_yet_never_come_up(scene):
    catalog, snap, text, collaborative = scene
    exists = np.ones(len(catalog), bool)
    exists[::3] = False
    sources = Sources.build(text.neighbours, collaborative, text.vectors, snap.items, exists)
    candidates = pool(sources, snap.history.matrix, snap.history.last_item)
    assert len(candidates) and exists[candidates.items].all()


def test_one_user_at_request_time_gets_the_candidates_of_the_build(scene):
    catalog, snap, text, collaborative = scene
    sources = Sources.build(text.neighbours, collaborative, text.vectors, snap.items, snap.exists)
    every = pool(sources, snap.history.matrix, snap.history.last_item)
    for row in (0, 7, 31):
        one = pool(sources, snap.history.matrix[row], snap.history.last_item[row : row + 1])
        mine = every.rows == row
        assert one.items.tolist() == every.items[mine].tolist()
        np.testing.assert_allclose(one.scores, every.scores[mine], rtol=1e-5)


def test_a_user_with_nothing_still_gets_what_sells(scene):
    catalog, snap, text, collaborative = scene
    sources = Sources.build(text.neighbours, collaborative, text.vectors, snap.items, snap.exists)
    empty = snap.history.matrix[:1].copy()
    empty.data[:] = 0
    empty.eliminate_zeros()
    candidates = pool(sources, empty, np.array([-1]))
    brought = {SOURCES[s] for s in range(len(SOURCES)) if (candidates.scores[:, s] > 0).any()}
    assert brought == {"popular", "trending"} or brought == {"popular"}


def test_nearest_new_products_found_in_two_parts_equal_those_found_at_once(scene):
    """The products never sold are found once; at each moment the other new ones are merged in."""
    catalog, snap, text, collaborative = scene
    rng = np.random.default_rng(3)
    unsold = rng.random(len(catalog)) < 0.3
    nearest = NearestNew.build(text.vectors, unsold)
    for new in (unsold, unsold | (rng.random(len(catalog)) < 0.2), rng.random(len(catalog)) < 0.5):
        got, expected = nearest.of(new), nearest_new(text.vectors, np.flatnonzero(new))
        assert got.indices.shape == expected.indices.shape
        for item in range(len(catalog)):  # the same neighbours and scores (ties may come in either order)
            got_items, got_scores = got.of(item)
            expected_items, expected_scores = expected.of(item)
            np.testing.assert_allclose(got_scores, expected_scores, rtol=1e-6)
            last = expected_scores[-1] if len(expected_scores) else 0  # ties at the end may differ
            assert set(got_items[got_scores > last]) == set(expected_items[expected_scores > last])
