from __future__ import annotations

from recommender.data.data_loader import load_catalog
from recommender.models.content_based import ContentConfig, ContentModel
from tests.helpers import write


def ids(catalog, items):
    return [catalog.product_ids[i] for i in items]


def test_the_other_mug_is_most_similar_and_never_itself(store):
    catalog = load_catalog(store[0])
    model = ContentModel().fit(catalog)
    items, scores = model.neighbours.of(catalog.position("P1"))
    assert ids(catalog, items)[0] == "P2"
    assert "P1" not in ids(catalog, items)
    assert all(0 < s <= 1.0001 for s in scores)


def test_a_product_sharing_no_words_has_no_neighbours(store):
    catalog = load_catalog(store[0])
    model = ContentModel().fit(catalog)
    assert model.neighbours.of(catalog.position("P7"))[0].size == 0


def test_title_counts_more_than_description(tmp_path):
    # A shares its title word with B and its description words with C.
    path = write(
        tmp_path / "p.csv",
        "product_id,title,category,description\n"
        "A,lantern,,bright sturdy\n"
        "B,lantern,,quiet\n"
        "C,compass,,bright sturdy\n"
        "D,rope,,long\n",
    )
    catalog = load_catalog(path)
    by_title = ContentModel(ContentConfig(title_weight=3.0)).fit(catalog)
    by_description = ContentModel(ContentConfig(title_weight=0.2)).fit(catalog)
    assert ids(catalog, by_title.neighbours.of(0)[0])[0] == "B"
    assert ids(catalog, by_description.neighbours.of(0)[0])[0] == "C"


def test_catalog_without_any_words(tmp_path):
    catalog = load_catalog(write(tmp_path / "p.csv", "product_id,title\nA,-\nB,!\n"))
    model = ContentModel().fit(catalog)
    assert model.neighbours.of(0)[0].size == 0
