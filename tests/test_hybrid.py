from __future__ import annotations

import numpy as np
import pytest

from recommender.models.hybrid import blend


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
