"""The A/B report's statistics on counts whose answers are known."""

from __future__ import annotations

import math

import pytest

from recommender.experiments.experiment import compare, sample_ratio, users_needed


def test_forty_against_ten_percent_at_300_users_each_is_significant():
    result = compare(120, 300, 30, 300)
    assert result.rate == 0.4 and result.control_rate == 0.1
    assert result.p_value < 0.01
    assert result.lift == pytest.approx(3.0)  # +300%
    assert result.lift_low < 3.0 < result.lift_high and result.lift_low > 0


def test_equal_rates_are_not_significant():
    result = compare(30, 300, 30, 300)
    assert result.p_value > 0.05 and result.p_value == pytest.approx(1.0)
    assert result.lift == 0 and result.lift_low < 0 < result.lift_high
    assert result.users_needed is None  # no difference to detect


def test_the_z_test_matches_the_textbook_value():
    # p1 = 0.12, p0 = 0.10, 2,000 users each: pooled 0.11, z = 0.02 / sqrt(0.11 * 0.89 * 2 / 2000) = 2.0214
    result = compare(240, 2000, 200, 2000)
    assert result.p_value == pytest.approx(2 * (1 - 0.5 * (1 + math.erf(2.0214 / math.sqrt(2)))), rel=1e-3)


def test_users_needed_for_ten_against_twelve_percent():
    assert users_needed(0.10, 0.12) == 3841  # the usual calculators' 3,841 per arm at 80% power


def test_empty_arms_give_no_p_value_and_no_crash():
    assert compare(0, 0, 0, 0).p_value is None
    assert compare(0, 100, 0, 100).p_value is None  # nobody clicked anywhere
    assert compare(5, 100, 0, 100).lift is None  # the control's rate is 0: no relative lift


def test_sample_ratio_mismatch_is_detected_when_exposure_is_skewed():
    assert not sample_ratio([5000, 5000], [50, 50]).mismatch
    assert not sample_ratio([5040, 4960], [50, 50]).mismatch
    skewed = sample_ratio([5300, 4700], [50, 50])
    assert skewed.mismatch and skewed.p_value < 0.001
    assert sample_ratio([7000, 3000], [70, 30]).mismatch is False
    assert sample_ratio([10, 0], [1, 0]).mismatch is False  # a 0-weight arm with nobody: fine
    assert sample_ratio([10, 3], [1, 0]).mismatch is True  # users where nobody should be
    assert sample_ratio([0, 0], [50, 50]).p_value is None
