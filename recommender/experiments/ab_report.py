"""The A/B report: what each variant of the current experiment was shown and what followed.

Counts come from two tables of the feedback database: `ab_exposures` (who saw which variant) and
`feedback` (what users then did). An event is counted for a variant in two ways:
- after exposure: any click, cart or purchase of an exposed user from their first exposure on
  (or quoting one of the experiment's recomm_ids): the user-level comparison the test is about;
- from recommendations: only events quoting the recomm_id of an answer of that variant.
Each variant is compared with the control (the first configured variant) on the share of exposed
users who clicked (`p_value`, `lift`) and who bought (`conversion`), see
recommender/experiments/experiment.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from recommender.experiments.experiment import Comparison, compare, sample_ratio
from recommender.storage.exposures import exposures_table
from recommender.storage.feedback import feedback_table

Prices = Callable[[str], "float | None"]

# The event types a report counts, and the name each has in it.
COUNTED = {"clicked": "clicks", "add_to_cart": "add_to_cart", "purchase": "conversions"}


@dataclass
class Outcomes:
    """Events of one variant: how many of each type, how many distinct users did each, and the
    purchases per product (for revenue)."""

    events: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    purchases: dict[str, int] = field(default_factory=dict)


def build(
    engine: Engine, experiment: str, variants: Sequence[tuple[str, float]], price_of: Prices | None
) -> dict:
    """The report of `experiment` (variants as configured, the first the control). `price_of`
    gives a product's current price (None: unknown); None when the catalog has no prices."""
    exposed, since = _exposed(engine, experiment)
    after, quoted = _outcomes(engine, experiment)
    names = [name for name, _ in variants]
    control = names[0]
    price = _pricing(price_of)
    rows: dict[str, dict] = {}
    for name, weight in variants:
        users, exposures = exposed.get(name, (0, 0))
        seen, cited = after.get(name, Outcomes()), quoted.get(name, Outcomes())
        row: dict = {"weight": weight, "users": users, "exposures": exposures}
        row |= {label: seen.events.get(action, 0) for action, label in COUNTED.items()}
        row["revenue"] = price(seen.purchases)
        row["ctr"] = _ratio(row["clicks"], exposures)
        row["click_rate"] = _ratio(seen.users.get("clicked", 0), users)
        row["conversion_rate"] = _ratio(seen.users.get("purchase", 0), users)
        from_recommendations = {label: cited.events.get(action, 0) for action, label in COUNTED.items()}
        from_recommendations |= {
            "revenue": price(cited.purchases),
            "ctr": _ratio(from_recommendations["clicks"], exposures),
        }
        row["from_recommendations"] = from_recommendations
        rows[name] = row
    base, base_users = after.get(control, Outcomes()), rows[control]["users"]
    for name in names:
        row, seen = rows[name], after.get(name, Outcomes())
        if name == control:
            row |= _NOTHING
            row["conversion"] = dict(_NOTHING)
            continue
        row |= _against(seen.users.get("clicked", 0), row["users"], base.users.get("clicked", 0), base_users)
        row["conversion"] = _against(
            seen.users.get("purchase", 0), row["users"], base.users.get("purchase", 0), base_users
        )
    ratio = sample_ratio([rows[n]["users"] for n in names], [w for _, w in variants])
    warnings = []
    if ratio.mismatch:
        warnings.append(
            f"sample ratio mismatch (chi-square p = {ratio.p_value:.2g}): exposed users do not follow the "
            "configured weights, so the comparison cannot be trusted; check that every variant's answers "
            "reach users and that AB_VARIANTS did not change during the experiment"
        )
    warnings += [f"no user has been exposed to {n} yet" for n in names if rows[n]["users"] == 0]
    return {
        "experiment": experiment,
        "control": control,
        "since": since.isoformat() + "Z" if since else None,
        "metric": "click_rate",
        "variants": rows,
        "sample_ratio": {
            "p_value": ratio.p_value,
            "mismatch": ratio.mismatch,
            "expected_users": dict(zip(names, (round(e, 1) for e in ratio.expected), strict=True)),
        },
        "warnings": warnings,
    }


_NOTHING = {"p_value": None, "lift": None, "lift_ci": None, "users_needed": None, "more_users_needed": None}


def _against(successes: int, users: int, control_successes: int, control_users: int) -> dict:
    """A variant's rate against the control's, as the report shows it."""
    c: Comparison = compare(successes, users, control_successes, control_users)
    more = None if c.users_needed is None else max(0, c.users_needed - min(users, control_users))
    return {
        "p_value": c.p_value,
        "lift": c.lift,
        "lift_ci": [c.lift_low, c.lift_high] if c.lift_low is not None else None,
        "users_needed": c.users_needed,
        "more_users_needed": more,
    }


def _exposed(engine: Engine, experiment: str) -> tuple[dict[str, tuple[int, int]], datetime | None]:
    """Users and exposures per variant, and the experiment's first exposure."""
    e = exposures_table.c
    query = (
        sa.select(e.variant, sa.func.count(), sa.func.sum(e.exposures), sa.func.min(e.first_at))
        .where(e.experiment == experiment)
        .group_by(e.variant)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    firsts = [first for *_, first in rows if first is not None]
    return {variant: (int(users), int(total)) for variant, users, total, _ in rows}, min(firsts, default=None)


def _outcomes(engine: Engine, experiment: str) -> tuple[dict[str, Outcomes], dict[str, Outcomes]]:
    """Per variant, the events after exposure and the events quoting its recomm_ids."""
    f, e = feedback_table.c, exposures_table.c
    counted = f.action.in_(list(COUNTED))
    joined = feedback_table.join(exposures_table, sa.and_(e.user_id == f.user_id, e.experiment == experiment))
    after_exposure = sa.and_(counted, sa.or_(f.ts >= e.first_at, f.ab_experiment == experiment))
    quoting = sa.and_(counted, f.ab_experiment == experiment)
    purchase = f.action == "purchase"
    queries = {
        "after": (
            sa.select(e.variant, f.action, sa.func.count(), sa.func.count(sa.distinct(f.user_id)))
            .select_from(joined)
            .where(after_exposure)
            .group_by(e.variant, f.action),
            sa.select(e.variant, f.product_id, sa.func.count())
            .select_from(joined)
            .where(after_exposure, purchase)
            .group_by(e.variant, f.product_id),
        ),
        "quoted": (
            sa.select(f.ab_variant, f.action, sa.func.count(), sa.func.count(sa.distinct(f.user_id)))
            .where(quoting)
            .group_by(f.ab_variant, f.action),
            sa.select(f.ab_variant, f.product_id, sa.func.count())
            .where(quoting, purchase)
            .group_by(f.ab_variant, f.product_id),
        ),
    }
    found: dict[str, dict[str, Outcomes]] = {"after": {}, "quoted": {}}
    with engine.connect() as conn:
        for kind, (by_action, by_product) in queries.items():
            for variant, action, events, users in conn.execute(by_action):
                outcome = found[kind].setdefault(variant, Outcomes())
                outcome.events[action], outcome.users[action] = int(events), int(users)
            for variant, product_id, purchases in conn.execute(by_product):
                found[kind].setdefault(variant, Outcomes()).purchases[product_id] = int(purchases)
    return found["after"], found["quoted"]


def _pricing(price_of: Prices | None):  # type: ignore[no-untyped-def]
    """Revenue of a {product_id: purchases} count: None when the catalog has no prices at all;
    products without a known price add nothing."""
    if price_of is None:
        return lambda purchases: None
    return lambda purchases: round(sum((price_of(p) or 0.0) * n for p, n in purchases.items()), 2)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None
