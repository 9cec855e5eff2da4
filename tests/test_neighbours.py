from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sparse_dot_topn import sp_matmul_topn

from recommender.models import neighbours as nb
from recommender.models.merging import gather, merge, top_n
from recommender.models.neighbours import (
    Neighbours,
    as_matrix,
    best_of,
    best_of_rows,
    entries,
    matmul_topn,
    not_owned,
    ranked,
    ranked_presorted,
    top_k_neighbours,
    user_lists,
)


def brute_force(matrix, k):
    dense = (matrix @ matrix.T).toarray()
    np.fill_diagonal(dense, 0)
    rows = []
    for row in dense:
        order = np.lexsort((np.arange(len(row)), -row))
        rows.append([i for i in order[:k] if row[i] > 0])
    return rows


def test_top_k_matches_brute_force_across_chunks(monkeypatch):
    rng = np.random.default_rng(0)
    matrix = sp.random(300, 40, density=0.05, random_state=rng, format="csr", dtype=np.float32)
    monkeypatch.setattr(nb, "CHUNK_ROWS", 7)  # many small chunks
    table = top_k_neighbours(matrix, matrix, k=5)
    expected = brute_force(matrix, 5)
    for item in range(300):
        got, scores = table.of(item)
        assert got.tolist() == expected[item]
        assert item not in got
        assert np.all(np.diff(scores) <= 0)


def test_rows_with_few_neighbours_are_padded():
    matrix = sp.csr_matrix(np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32))
    table = top_k_neighbours(matrix, matrix, k=2)
    assert table.indices.tolist() == [[1, -1], [0, -1], [-1, -1]]
    assert table.of(2)[0].size == 0


def test_best_of_two_tables_keeps_each_rows_best_ties_to_the_lower_index(monkeypatch):
    monkeypatch.setattr(nb, "CHUNK_ROWS", 1)  # one row per chunk
    a = Neighbours(
        np.array([[4, 2], [3, -1], [-1, -1]]), np.array([[0.9, 0.5], [0.7, 0], [0, 0]], np.float32)
    )
    b = Neighbours(np.array([[1], [0], [5]]), np.array([[0.5], [0.8], [0.1]], np.float32))
    table = best_of(a, b, 2)
    assert table.indices.tolist() == [[4, 1], [0, 3], [5, -1]]
    np.testing.assert_array_equal(table.scores, np.array([[0.9, 0.5], [0.8, 0.7], [0.1, 0]], np.float32))


def test_merge_and_gather_add_scores():
    items, scores = merge(np.array([3, 1, 3]), np.array([0.5, 1.0, 0.25]))
    assert items.tolist() == [1, 3] and scores.tolist() == [1.0, 0.75]
    matrix = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], dtype=np.float32))
    table = top_k_neighbours(matrix, matrix, k=2)
    items, scores = gather(table, np.array([0, 2]), np.array([1.0, 2.0]))
    # 0's neighbours: 1 (2.0), 2 (1.0); 2's: 1 (2.0), 0 (1.0); weighted 1x and 2x.
    assert dict(zip(items.tolist(), scores.tolist(), strict=True)) == {0: 2.0, 1: 6.0, 2: 1.0}


def test_merge_and_gather_leave_out_the_excluded_items_and_the_padding():
    items, scores = merge(np.array([3, 1, 3, 6]), np.array([0.5, 1.0, 0.25, 2.0]), exclude=np.array([3, 8]))
    assert items.tolist() == [1, 6] and scores.tolist() == [1.0, 2.0]
    table = Neighbours(  # item 1's row is padded: one neighbour
        np.array([[1, 2], [2, -1], [0, 1]], np.int32),
        np.array([[0.5, 0.4], [0.9, 0], [0.3, 0.2]], np.float32),
    )
    items, scores = gather(table, np.array([1, 2]), np.array([1.0, 1.0]), exclude=np.array([1, 2]))
    assert items.tolist() == [0] and scores.tolist() == pytest.approx([0.3])
    items, scores = gather(table, np.array([0, 1]), np.array([1.0, 2.0]))
    assert dict(zip(items.tolist(), scores.tolist(), strict=True)) == pytest.approx({1: 0.5, 2: 2.2})
    # Afterwards the scratch array is clean: the same sums again.
    assert merge(np.array([3, 1, 3]), np.array([0.5, 1.0, 0.25]))[1].tolist() == [1.0, 0.75]


def test_top_n_orders_excludes_and_breaks_ties_by_item():
    items = np.array([5, 2, 9, 4, 7])
    scores = np.array([0.1, 0.9, 0.9, 0.5, 0.3])
    got, got_scores = top_n(items, scores, 3, exclude=np.array([4]))
    assert got.tolist() == [2, 9, 7]
    assert got_scores.tolist() == [np.float32(0.9), np.float32(0.9), np.float32(0.3)]
    assert top_n(items, scores, 10)[0].tolist() == [2, 9, 4, 7, 5]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("sort", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_topn_equals_the_librarys_checked_call(monkeypatch, threads, sort, dtype):
    # float32 takes the unchecked call, float64 the checked one: the same entries either way.
    monkeypatch.setattr(nb, "THREADS", threads)
    rng = np.random.default_rng(3)
    left = sp.random(50, 40, density=0.1, random_state=rng, format="csr", dtype=dtype)
    left.data -= 0.3  # some products negative, left out
    right = sp.random(40, 70, density=0.1, random_state=rng, format="csr", dtype=dtype)
    got = matmul_topn(left, right, 6, sort=sort)
    expected = sp_matmul_topn(left, right, top_n=6, threshold=0.0, sort=sort)
    assert got.shape == (50, 70) and (got != expected).nnz == 0
    assert np.array_equal(got.indptr, expected.indptr) and np.array_equal(got.indices, expected.indices)
    assert (matmul_topn(left.tocoo(), right, 6, sort=sort) != expected).nnz == 0  # not CSR: checked call
    empty = matmul_topn(sp.csr_matrix((3, 40), dtype=dtype), right, 6)
    assert empty.shape == (3, 70) and empty.nnz == 0


def test_user_lists_equal_gathering_at_request_time(monkeypatch):
    monkeypatch.setattr(nb, "LIST_ROWS", 7)  # several chunks of users
    rng = np.random.default_rng(5)
    items = sp.random(60, 30, density=0.3, random_state=rng, format="csr", dtype=np.float32)
    table = top_k_neighbours(items.T.tocsr(), items.T.tocsr(), k=8)
    history = sp.random(40, 30, density=0.15, random_state=rng, format="csr", dtype=np.float32)
    lists = user_lists(history, table, k=5)
    _assert_as_at_request_time(lists, history, table, 5)
    assert lists.of(0, 6) is None  # longer than what was kept: computed at request time


def _assert_as_at_request_time(lists, history, table, k):  # type: ignore[no-untyped-def]
    """Every user's built list is the one gathered for them at request time; returns the scores."""
    scores = []
    for user in range(history.shape[0]):
        owned = history[user].indices
        expected = top_n(*gather(table, owned, history[user].data), k, exclude=owned)
        got = lists.of(user, k)
        assert got is not None
        assert got[0].tolist() == expected[0].tolist()
        assert got[1] == pytest.approx(expected[1], rel=1e-5)
        scores.append(got[1])
    return scores


def test_user_lists_break_ties_by_item_as_at_request_time():
    # Scores from two values and every weight 1: most lists hold ties, which go to the lower item.
    rng = np.random.default_rng(8)
    indices = np.array([rng.permutation(np.delete(np.arange(30), i))[:8] for i in range(30)], np.int32)
    table = Neighbours(indices, -np.sort(-rng.choice(np.array([0.5, 1.0], np.float32), (30, 8)), axis=1))
    history = sp.random(40, 30, density=0.1, random_state=rng, format="csr", dtype=np.float32)
    history.data[:] = 1.0
    scores = _assert_as_at_request_time(user_lists(history, table, k=6), history, table, 6)
    assert sum(len(s) - len(np.unique(s)) for s in scores) > 20  # ties were there to break


def test_users_crowded_by_their_own_items_get_their_true_list():
    # One user has items 0..3; the only neighbours of those are each other and item 4.
    table = Neighbours(
        np.array([[1, 2, 3, 4], [0, 2, 3, 4], [0, 1, 3, 4], [0, 1, 2, 4], [0, 1, 2, 3]], np.int32),
        np.array([[0.9, 0.8, 0.7, 0.1]] * 5, np.float32),
    )
    history = sp.csr_matrix(np.array([[1, 1, 1, 1, 0]], np.float32))
    for spare in (1, 4):  # with spare=1 the product's top 2 are both owned: summed one by one
        items, scores = user_lists(history, table, k=2, spare=spare).of(0, 2)
        assert items.tolist() == [4]
        assert scores.tolist() == pytest.approx([0.4])


def test_ranked_orders_by_row_then_score_then_column_for_any_sign():
    rng = np.random.default_rng(3)
    matrix = sp.random(30, 40, density=0.4, random_state=rng, format="csr", dtype=np.float32)
    matrix.data = rng.choice(np.array([-2.5, -0.0, 0.5, 1.0, 3.0], np.float32), matrix.nnz)  # many ties
    rows, cols, data, rank = ranked(*entries(matrix.copy()), 30)
    order = np.lexsort((matrix.indices, -matrix.data, np.repeat(np.arange(30), np.diff(matrix.indptr))))
    assert cols.tolist() == matrix.indices[order].tolist()
    assert data.tolist() == matrix.data[order].tolist()
    assert rank.tolist() == [r for n in np.diff(matrix.indptr) for r in range(n)]
    # Entries already by score (columns shuffled within equal scores) come out the same way.
    shuffled = rng.permutation(len(cols))
    by_score = np.lexsort((shuffled, -data, rows))
    again = ranked_presorted(rows[by_score], cols[by_score], data[by_score], 30)
    assert [a.tolist() for a in again] == [rows.tolist(), cols.tolist(), data.tolist(), rank.tolist()]


def test_best_of_rows_keeps_what_ranked_would_put_first():
    rng = np.random.default_rng(4)
    dense = np.where(rng.random((50, 40)) < 0.5, rng.choice(np.array([0.5, 1.0, 2.0]), (50, 40)), 0)
    dense[7], dense[8] = 0, 0  # ties at the cut, an empty row, and a row shorter than n
    dense[8, 3] = 1.0
    matrix = sp.csr_matrix(dense.astype(np.float32))
    rows, cols, data = entries(matrix.copy())
    for n, block_rows in ((4, 8192), (4, 3), (1, 7), (40, 5)):
        got = best_of_rows(rows, cols, data, 50, n, block_rows)
        assert all(np.all(np.diff(a) >= 0) for a in (got[0],))  # still in row order
        best = ranked(rows, cols, data, 50)
        first = best[3] < n
        expected = np.lexsort((best[1][first], best[0][first]))
        assert got[0].tolist() == best[0][first][expected].tolist()
        assert got[1].tolist() == best[1][first][expected].tolist()
        assert got[2].tolist() == best[2][first][expected].tolist()


def test_as_matrix_of_a_full_table_uses_its_arrays_and_of_a_padded_one_leaves_the_padding_out():
    full = Neighbours(
        np.array([[1, 2], [0, 2], [1, 0]], np.int32),
        np.array([[0.5, 0.25], [0.5, 0.1], [0.3, 0.2]], np.float32),
    )
    matrix = as_matrix(full)
    assert np.shares_memory(matrix.indices, full.indices) and np.shares_memory(matrix.data, full.scores)
    expected = [[0, 0.5, 0.25], [0.5, 0, 0.1], [0.2, 0.3, 0]]
    np.testing.assert_array_equal(matrix.toarray(), np.array(expected, np.float32))
    padded = Neighbours(np.array([[1, -1], [0, 2], [1, 0]], np.int32), full.scores)
    expected[0][2] = 0
    np.testing.assert_array_equal(as_matrix(padded).toarray(), np.array(expected, np.float32))


def test_top_per_row_keeps_each_rows_largest_ties_to_the_lower_column():
    from recommender.models.neighbours import top_per_row

    rng = np.random.default_rng(4)
    dense = rng.integers(0, 4, size=(30, 40)).astype(np.float32)  # few values: many ties
    dense[3] = 0  # an empty row
    kept = top_per_row(sp.csr_matrix(dense), 5).toarray()
    for row, values in enumerate(dense):
        columns = np.flatnonzero(values)
        best = sorted(columns, key=lambda c: (-values[c], c))[:5]
        expected = np.zeros_like(values)
        expected[best] = values[best]
        assert np.array_equal(kept[row], expected), row
    short = sp.csr_matrix(np.eye(4, dtype=np.float32))
    assert top_per_row(short, 1) is short  # no row longer than the limit: as it was


@pytest.mark.parametrize("hashed", [False, True])
def test_not_owned_marks_the_entries_a_row_does_not_hold(monkeypatch, hashed):
    monkeypatch.setattr(nb, "HASHED_KEYS", 1 if hashed else 10**9)  # the hash table, or binary search
    rng = np.random.default_rng(3)
    owned = sp.random(50, 40, density=0.2, random_state=rng, format="csr", dtype=np.float32)
    rows, cols = rng.integers(0, 50, 2000), rng.integers(0, 40, 2000).astype(np.int32)
    held = set(zip(*owned.nonzero(), strict=True))
    expected = [(r, c) not in held for r, c in zip(rows.tolist(), cols.tolist(), strict=True)]
    assert not_owned(rows, cols, owned).tolist() == expected
    assert not_owned(rows, cols, sp.csr_matrix((50, 40), dtype=np.float32)).all()
