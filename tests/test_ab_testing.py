from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from recommender.experiments.ab_testing import ABRouter


def test_assignment_is_sticky_and_follows_the_documented_hash():
    router = ABRouter([("content", 50), ("hybrid", 50)], salt="s1")
    digest = hashlib.md5(b"s1.recommendations.U42").hexdigest()
    expected = int(digest[:15], 16) / 16**15
    assert router.bucket("U42") == expected
    assert router.assign("U42") == ("content" if expected < 0.5 else "hybrid")
    assert all(router.assign("U42") == router.assign("U42") for _ in range(10))
    assert router.control == "content"


def test_split_follows_the_weights():
    router = ABRouter([("content", 20), ("hybrid", 80)], salt="s")
    counts = Counter(router.assign(f"user-{i}") for i in range(20000))
    assert counts["content"] / 20000 == pytest.approx(0.2, abs=0.015)


def test_zero_weight_variant_gets_nobody():
    router = ABRouter([("content", 0), ("hybrid", 1), ("popularity", 0)], salt="s")
    assert {router.assign(str(i)) for i in range(2000)} == {"hybrid"}


def test_a_new_salt_reshuffles_users():
    a = ABRouter([("content", 50), ("hybrid", 50)], salt="exp-1")
    b = ABRouter([("content", 50), ("hybrid", 50)], salt="exp-2")
    moved = sum(a.assign(str(i)) != b.assign(str(i)) for i in range(2000))
    assert 800 < moved < 1200


def test_bad_weights_are_refused():
    with pytest.raises(ValueError):
        ABRouter([("content", 0), ("hybrid", 0)], salt="s")
    with pytest.raises(ValueError):
        ABRouter([], salt="s")


@pytest.mark.parametrize("weights", [(50, 50), (70, 30), (10, 20, 70)])
def test_assignment_is_within_two_points_of_the_split_over_100000_ids(weights):
    names = ["content", "hybrid", "ranked"][: len(weights)]
    router = ABRouter(list(zip(names, weights, strict=True)), salt="split-check")
    counts = Counter(router.assign(f"customer-{i}") for i in range(100_000))
    for name, weight in zip(names, weights, strict=True):
        assert abs(counts[name] / 100_000 - weight / sum(weights)) < 0.02
