"""The console's overview: the service's own figures at a glance, added up over workers as
/metrics is: requests and the cache's hit ratio per route, latency, events per hour by action, and
the latest build (when, how long, the check that chose what /recommend/user serves, and why)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from recommender.serving.service import Recommender
from recommender.storage.feedback import FeedbackStore
from web import monitoring

EVENT_HOURS = 48  # the events chart: the hours up to the latest event
RECOMMENDATIONS = "/recommend/"  # the routes whose latency the chart shows start so


def overview(model: Recommender, feedback: FeedbackStore, cache_enabled: bool) -> dict:
    counted = monitoring.totals()
    return {
        "requests": _requests(counted),
        "cache": {"enabled": cache_enabled, **_cache(counted["cache"])},
        "latency": _latency(counted["latency"]),
        "events": events(model, feedback),
        "build": build(model),
    }


def _requests(counted: dict) -> list[dict]:
    """Per route, busiest first: requests, client errors (4xx), server errors (5xx), p50 and p99 ms."""
    rows = []
    for route, by_status in counted["requests"].items():
        cumulative = counted["latency"].get(route, [])
        rows.append(
            {
                "route": route,
                "requests": sum(by_status.values()),
                "client_errors": sum(n for status, n in by_status.items() if status.startswith("4")),
                "server_errors": sum(n for status, n in by_status.items() if status.startswith("5")),
                "p50_ms": _ms(monitoring.quantile(0.5, cumulative)),
                "p99_ms": _ms(monitoring.quantile(0.99, cumulative)),
            }
        )
    return sorted(rows, key=lambda row: (-row["requests"], row["route"]))


def _cache(lookups: dict[str, int]) -> dict:
    hits, misses = lookups.get("hit", 0), lookups.get("miss", 0)
    return {
        "hits": hits,
        "misses": misses,
        "hit_ratio": round(hits / (hits + misses), 4) if hits + misses else None,
    }


def _latency(histograms: dict[str, list[int]]) -> dict:
    """The recommendation routes' requests by how long they took: a count per latency bucket."""
    routes = [r for r in histograms if r.startswith(RECOMMENDATIONS)]
    cumulative = [sum(histograms[r][i] for r in routes) for i in range(len(monitoring.LATENCY_BOUNDS) + 1)]
    buckets, below = [], 0
    for bound, count in zip((*monitoring.LATENCY_BOUNDS, None), cumulative, strict=True):
        buckets.append({"up_to_ms": _ms(bound), "requests": count - below})
        below = count
    return {
        "buckets": buckets,
        "p50_ms": _ms(monitoring.quantile(0.5, cumulative)),
        "p99_ms": _ms(monitoring.quantile(0.99, cumulative)),
    }


def events(model: Recommender, feedback: FeedbackStore) -> dict:
    """Events per hour by action over the EVENT_HOURS hours up to the latest event: the build's
    counts of its log, and the events posted since the build (from the feedback table)."""
    counts: dict[datetime, dict[str, int]] = {}
    activity = model.built.get("activity") or {}
    since = datetime(1970, 1, 1)  # no count from the build: every posted event
    if activity:
        start = datetime.fromisoformat(activity["start"])
        for action, per_hour in activity["counts"].items():
            for i, n in enumerate(per_hour):
                if n:
                    hour = counts.setdefault(start + timedelta(hours=i), {})
                    hour[action] = hour.get(action, 0) + n
            since = start + timedelta(hours=len(per_hour) - EVENT_HOURS)  # the chart's first hour, at most
    posted = "ok"
    try:
        for hour, action, n in feedback.per_hour(model.feedback_last_id, since):
            at = counts.setdefault(hour, {})
            at[action] = at.get(action, 0) + n
    except sa.exc.SQLAlchemyError:
        posted = "unavailable"
    if not counts:
        return {"until": None, "hours": [], "counts": {}, "feedback": posted}
    until = max(counts)
    hours = [until - timedelta(hours=EVENT_HOURS - 1 - i) for i in range(EVENT_HOURS)]
    actions = sorted({action for hour in hours for action in counts.get(hour, {})})
    return {
        "until": until.isoformat(),
        "hours": [h.isoformat() for h in hours],
        "counts": {a: [counts.get(h, {}).get(a, 0) for h in hours] for a in actions},
        "feedback": posted,
    }


def build(model: Recommender) -> dict:
    """When the model in use was built, in how long, and what serves /recommend/user by default, and why."""
    built = build_facts(model)
    ranked = model.ranked
    check = None
    if ranked is not None:
        report = ranked.ranker.report
        objective = ranked.ranker.objective
        check = {
            "objective": objective,
            "ranker_ndcg": report.get("held_out_ndcg", {}).get(objective),
            "blend_ndcg": report.get("held_out_blend_ndcg"),
            "windows": report.get("windows", []),
        }
        why = (
            f"the ranker ({objective}) beat the untrained blend of its candidates on the latest "
            "window held out from its training"
        )
    else:
        why = f"no ranker serves: {model.ranker_reason}"
    return {
        **built,
        "model_version": model.version,
        "default_strategy": model.user_strategy,
        "why": why,
        "check": check,
    }


def build_facts(model: Recommender) -> dict:
    """The model's build facts without its hourly counts (those are the events chart's)."""
    return {k: v for k, v in model.built.items() if k != "activity"}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)
