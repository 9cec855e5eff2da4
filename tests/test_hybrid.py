from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.models.hybrid import blend, blend_rows


def scored(items, scores):
    return np.array(items, np.int32), np.array(scores, np.float32)


def test_each_list_is_scaled_to_its_best_before_weighting():
    content = scored([1, 2], [0.5, 0.25])  # scaled: 1.0, 0.5
    cf = scored([2, 3], [40.0, 10.0])  # scaled: 1.0, 0.25
    items, scores = blend([(0.5, content), (0.5, cf)], n=3)
    assert items.tolist() == [2, 1, 3]
    assert scores.tolist() == pytest.approx([0.75, 0.5, 0.125])


def test_weights_shift_the_ranking_and_exclusions_apply():
    content = scored([1, 2], [1.0, 0.1])
    cf = scored([3, 2], [1.0, 0.9])
    assert blend([(1.0, content), (0.0, cf)], n=3)[0].tolist() == [1, 2]
    assert blend([(0.1, content), (0.9, cf)], n=2)[0].tolist() == [3, 2]
    assert blend([(0.5, content), (0.5, cf)], n=3, exclude=np.array([2]))[0].tolist() == [1, 3]


def test_empty_or_zero_lists_are_ignored():
    items, _ = blend([(1.0, scored([], [])), (1.0, scored([4], [0.0]))], n=5)
    assert items.size == 0


def test_blend_rows_gives_each_row_what_blend_gives_it():
    rng = np.random.default_rng(11)
    n_rows, n_items, width = 40, 30, 8
    parts = []
    for weight in (0.05, "per item", 0.9):
        rows = [rng.choice(n_items, width, replace=False) for _ in range(n_rows)]
        indices = np.stack(rows).astype(np.int32)
        scores = np.sort(rng.choice([0.25, 0.5, 1.0, 2.0], (n_rows, width)), axis=1)[:, ::-1]  # ties
        scores = scores.astype(np.float32)
        indices[rng.random((n_rows, width)) < 0.2] = -1  # unused slots (their scores ignored)
        scores[indices < 0] = 0
        scores[3] = 0  # a row of zeros: left out of the blend
        weights = rng.choice([0.05, 0.135], (n_rows, width)) if weight == "per item" else weight
        parts.append((weights, indices, scores))
    exclude = sp.random(n_rows, n_items, density=0.1, random_state=rng, format="csr", dtype=np.float32)
    table = blend_rows(parts, 5, exclude)
    for row in range(n_rows):
        items, scores = blend([_row(part, row) for part in parts], 5, exclude[row].indices, size=n_items)
        assert table.indices[row][table.indices[row] >= 0].tolist() == items.tolist()
        assert table.scores[row][: len(items)].tolist() == scores.tolist()  # the same sums, bit for bit


def _row(part, row):  # type: ignore[no-untyped-def]
    """One row of a blend_rows() part as blend() takes it: the used slots, best first."""
    weights, indices, scores = part
    used = indices[row] >= 0
    weight = weights[row][used] if isinstance(weights, np.ndarray) else weights
    return weight, (indices[row][used], scores[row][used])
