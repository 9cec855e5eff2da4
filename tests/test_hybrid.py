from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.models.hybrid import Part, blend, blend_rows


def scored(items, scores):
    return np.array(items, np.int32), np.array(scores, np.float32)


def test_each_list_is_scaled_to_its_best_before_weighting():
    content = scored([1, 2], [0.5, 0.25])  # scaled: 1.0, 0.5
    cf = scored([2, 3], [40.0, 10.0])  # scaled: 1.0, 0.25
    items, scores = blend([Part(0.5, content), Part(0.5, cf)], n=3)
    assert items.tolist() == [2, 1, 3]
    assert scores.tolist() == pytest.approx([0.75, 0.5, 0.125])


def test_weights_shift_the_ranking_and_exclusions_apply():
    content = scored([1, 2], [1.0, 0.1])
    cf = scored([3, 2], [1.0, 0.9])
    assert blend([Part(1.0, content), Part(0.0, cf)], n=3)[0].tolist() == [1, 2]
    assert blend([Part(0.1, content), Part(0.9, cf)], n=2)[0].tolist() == [3, 2]
    assert blend([Part(0.5, content), Part(0.5, cf)], n=3, exclude=np.array([2]))[0].tolist() == [1, 3]


def test_empty_or_zero_lists_are_ignored():
    items, _ = blend([Part(1.0, scored([], [])), Part(1.0, scored([4], [0.0]))], n=5)
    assert items.size == 0


def test_blend_adds_an_item_up_across_lists_and_leaves_items_out():
    first = scored([7, 1, 3, 5], [1.0, 1.0, 0.5, -0.5])
    second = scored([3, 5, 8], [1.0, 0.25, -0.5])
    items, scores = blend([Part(1.0, first), Part(1.0, second)], n=5, exclude=np.array([7, 9]))
    assert items.tolist() == [3, 1]  # 5 and 8 sum to negative scores: left out
    assert scores.tolist() == [1.5, 1.0]


def test_blend_gives_ties_to_the_lower_item():
    assert blend([Part(1.0, scored(range(6), [1.0] * 6))], n=2)[0].tolist() == [0, 1]
    rng = np.random.default_rng(5)
    for _ in range(200):
        parts = []
        for _ in range(rng.integers(1, 4)):
            items = rng.permutation(40)[: rng.integers(3, 30)]
            scores = np.sort(rng.choice([0.5, 1.0], len(items)))[::-1]
            scores[0] = 1.0  # each list's best is 1: scaled as it is, and every sum exact
            parts.append(Part(1.0, scored(items, scores)))
        exclude = rng.permutation(40)[: rng.integers(0, 5)]
        n = int(rng.integers(1, 6))
        got, totals = blend(parts, n, exclude=exclude)
        sums: dict[int, float] = {}
        for part in parts:
            items, scores = part.scored
            for item, score in zip(items.tolist(), scores.tolist(), strict=True):
                sums[item] = sums.get(item, 0.0) + score
        best = sorted(set(sums) - set(exclude.tolist()), key=lambda item: (-sums[item], item))[:n]
        assert got.tolist() == best
        assert totals.tolist() == [sums[item] for item in best]


def test_products_nobody_has_taken_get_a_parts_new_weight():
    unseen = np.zeros(10, bool)
    unseen[2] = True
    text = scored([1, 2, 3], [1.0, 1.0, 0.5])
    items, scores = blend([Part(0.2, text, new_weight=0.8)], n=3, unseen=unseen)
    assert items.tolist() == [2, 1, 3]
    assert scores.tolist() == pytest.approx([0.8, 0.2, 0.1])
    assert blend([Part(0.2, text)], n=3, unseen=unseen)[0].tolist() == [1, 2, 3]  # no new weight
    assert blend([Part(0.2, text, new_weight=0.8)], n=3)[0].tolist() == [1, 2, 3]  # none unseen


def test_blend_rows_gives_each_row_what_blend_gives_it():
    rng = np.random.default_rng(11)
    n_rows, n_items, width = 40, 30, 8
    unseen = rng.random(n_items) < 0.3  # products nobody has taken: weighed 0.135, not 0.05
    parts = []
    for weight in (0.05, "per item", 0.9):
        rows = [rng.choice(n_items, width, replace=False) for _ in range(n_rows)]
        indices = np.stack(rows).astype(np.int32)
        scores = np.sort(rng.choice([0.25, 0.5, 1.0, 2.0], (n_rows, width)), axis=1)[:, ::-1]  # ties
        scores = scores.astype(np.float32)
        indices[rng.random((n_rows, width)) < 0.2] = -1  # unused slots (their scores ignored)
        scores[indices < 0] = 0
        scores[3] = 0  # a row of zeros: left out of the blend
        parts.append((weight, indices, scores))
    exclude = sp.random(n_rows, n_items, density=0.1, random_state=rng, format="csr", dtype=np.float32)
    as_rows = [
        (np.where(unseen[indices], 0.135, 0.05) if weight == "per item" else weight, indices, scores)
        for weight, indices, scores in parts
    ]
    table = blend_rows(as_rows, 5, exclude)
    for row in range(n_rows):
        items, scores = blend([_row(part, row) for part in parts], 5, exclude[row].indices, unseen)
        assert table.indices[row][table.indices[row] >= 0].tolist() == items.tolist()
        assert table.scores[row][: len(items)].tolist() == scores.tolist()  # the same sums, bit for bit


def _row(part, row):  # type: ignore[no-untyped-def]
    """One row of a part as blend() takes it: the used slots, best first."""
    weight, indices, scores = part
    used = indices[row] >= 0
    row_items = (indices[row][used], scores[row][used])
    return Part(0.05, row_items, 0.135) if weight == "per item" else Part(weight, row_items)
