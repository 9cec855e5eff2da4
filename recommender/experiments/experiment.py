"""The statistics of an A/B report: a variant against the control, and the health of the split.

- `compare`: a two-proportion z-test (pooled), the relative lift with a 95% confidence interval
  (delta method on the log of the rates' ratio), and how many users each arm needs to detect the
  observed difference at 5% significance (two-sided) with 80% power.
- `sample_ratio`: a chi-square test of the users each variant got against the configured weights;
  a p-value under 0.001 is a sample-ratio mismatch (the split, the exposures or the logging is
  broken, and the comparison cannot be trusted).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

ALPHA = 0.05
POWER = 0.8
SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class Comparison:
    """A variant's rate against the control's."""

    rate: float
    control_rate: float
    lift: float | None  # relative: rate / control_rate - 1 (None when the control's rate is 0)
    lift_low: float | None  # 95% confidence interval of the lift
    lift_high: float | None
    p_value: float | None  # None when neither arm has a success, or an arm has no users
    users_needed: int | None  # per arm, to detect this difference (None: no difference to detect)


def compare(successes: int, users: int, control_successes: int, control_users: int) -> Comparison:
    """The variant (successes of users) against the control, each a count of distinct users."""
    rate = successes / users if users else 0.0
    control_rate = control_successes / control_users if control_users else 0.0
    p_value = None
    pooled = (successes + control_successes) / (users + control_users) if users + control_users else 0.0
    if users and control_users and 0 < pooled < 1:
        error = math.sqrt(pooled * (1 - pooled) * (1 / users + 1 / control_users))
        p_value = float(2 * stats.norm.sf(abs(rate - control_rate) / error))
    lift = lift_low = lift_high = None
    if control_rate > 0:
        lift = rate / control_rate - 1
        if successes > 0:
            log_error = math.sqrt((1 - rate) / successes + (1 - control_rate) / control_successes)
            z = stats.norm.ppf(1 - ALPHA / 2)
            log_ratio = math.log(rate / control_rate)
            lift_low = math.exp(log_ratio - z * log_error) - 1
            lift_high = math.exp(log_ratio + z * log_error) - 1
    return Comparison(
        rate, control_rate, lift, lift_low, lift_high, p_value, users_needed(control_rate, rate)
    )


def users_needed(control_rate: float, rate: float, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Users per arm for a two-sided two-proportion test to detect `rate` against `control_rate`."""
    if rate == control_rate:
        return None
    mean = (rate + control_rate) / 2
    z_alpha, z_power = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    spread = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_power * math.sqrt(
        rate * (1 - rate) + control_rate * (1 - control_rate)
    )
    return math.ceil(spread**2 / (rate - control_rate) ** 2)


@dataclass(frozen=True)
class SampleRatio:
    p_value: float | None
    mismatch: bool
    expected: list[float]  # users each variant should have had by the weights


def sample_ratio(users: Sequence[int], weights: Sequence[float]) -> SampleRatio:
    """Whether the users per variant fit the configured weights (chi-square goodness of fit)."""
    total, weight = sum(users), sum(weights)
    if weight <= 0:
        return SampleRatio(None, False, [0.0] * len(weights))
    expected = [total * w / weight for w in weights]
    observed = [u for u, e in zip(users, expected, strict=True) if e > 0]
    kept = [e for e in expected if e > 0]
    if any(u > 0 for u, e in zip(users, expected, strict=True) if e == 0):  # users in a 0-weight arm
        return SampleRatio(0.0, True, expected)
    if total == 0 or len(kept) < 2:
        return SampleRatio(None, False, expected)
    p_value = float(stats.chisquare(observed, kept).pvalue)
    return SampleRatio(p_value, p_value < SRM_THRESHOLD, expected)
