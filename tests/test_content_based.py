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


def test_forked_processes_make_the_same_vectors_and_neighbours(store, monkeypatch, single_threaded):
    from recommender.models import content_based

    catalog = load_catalog(store[0])
    serial = ContentModel().fit(catalog)
    monkeypatch.setattr(content_based, "PARALLEL_PRODUCTS", 0)
    monkeypatch.setattr(content_based, "WORKERS", 2)
    calls = []
    fork_map = content_based.fork_map
    spy = lambda task, args: calls.append(args) or fork_map(task, args)  # noqa: E731
    monkeypatch.setattr(content_based, "fork_map", spy)
    forked = ContentModel().fit(catalog)
    (spans,) = calls  # the rows, in slices
    assert len(spans) > 1 and spans[0][0] == 0 and spans[-1][1] == len(catalog)
    assert (serial.vectors != forked.vectors).nnz == 0 and serial.vectors.nnz > 0
    assert (serial.neighbours.indices == forked.neighbours.indices).all()
    assert (serial.neighbours.scores == forked.neighbours.scores).all()
