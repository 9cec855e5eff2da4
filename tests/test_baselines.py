"""EASE over the most taken products, for catalogs too large for its dense inverse."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommender.evaluation.baselines import ease, ease_on_most_taken, most_taken

# Five users, six products: 0 and 1 are taken together by everyone but user 4; 2 by three users, 3
# by two, 4 by one; 5 by nobody.
TAKEN = [[0, 1, 2], [0, 1, 3], [0, 1, 2, 3], [0, 1, 2], [4]]


def _matrix() -> sp.csr_matrix:
    rows = [u for u, items in enumerate(TAKEN) for _ in items]
    cols = [i for items in TAKEN for i in items]
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(5, 6))


def test_most_taken_keeps_the_products_someone_took_and_the_most_taken_of_them():
    assert most_taken(_matrix()).tolist() == [0, 1, 2, 3, 4]
    assert most_taken(_matrix(), limit=3).tolist() == [0, 1, 2]


def test_ease_on_the_most_taken_recommends_only_those_and_never_what_the_user_has():
    recommend = ease_on_most_taken(_matrix(), 1.0, limit=3)
    lists = recommend(np.arange(5), 6)
    assert lists[4].tolist()[:2] == [0, 1]  # user 4 has only product 4: what sells with nothing
    assert all(set(found.tolist()) <= {0, 1, 2} for found in lists)
    assert all(not set(found.tolist()) & set(TAKEN[u]) for u, found in enumerate(lists))
    assert lists[1].tolist() == [2]  # user 1 lacks only product 2 among the three


def test_with_room_for_every_taken_product_it_ranks_as_ease_does_without_untaken_ones():
    full = ease(_matrix(), 1.0)(np.arange(5), 2)
    most = ease_on_most_taken(_matrix(), 1.0)(np.arange(5), 2)
    assert [[i for i in f.tolist() if i != 5] for f in full] == [m.tolist() for m in most]
    assert 5 in full[2].tolist()  # full EASE fills up with product 5 at score 0; nobody took it
