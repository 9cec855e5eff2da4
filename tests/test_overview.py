"""The figures of GET /stats (the console's overview), with known answers.

The request counters are the process's own (as /metrics), shared by every test: the tests below
compare the figures before and after what they do.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from recommender.data.activity import hourly
from web import monitoring, overview

ADMIN = {"Authorization": "Bearer overview-token"}
CONTENT = "/recommend/content/<path:product_id>"


@pytest.fixture
def admin_client(config, make_app, database):
    app = make_app(dataclasses.replace(config, admin_token="overview-token", feedback_db=database))
    return app.test_client()


def figures(client) -> dict:
    answer = client.get("/stats", headers=ADMIN)
    assert answer.status_code == 200
    return answer.get_json()


def row(figures: dict, route: str) -> dict:
    found = [r for r in figures["requests"] if r["route"] == route]
    return found[0] if found else {"requests": 0, "client_errors": 0, "server_errors": 0}


def test_the_figures_need_the_admin_token_when_one_is_set(admin_client, client):
    assert admin_client.get("/stats").status_code == 401
    assert admin_client.get("/stats", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/stats").status_code == 200  # no token set: a local demo, open


def test_requests_errors_and_latency_are_counted_per_route(admin_client):
    before = figures(admin_client)
    for product in ("P1", "P2", "P3", "P9"):  # P9 is not in the catalog: a 404
        admin_client.get(f"/recommend/content/{product}")
    after = figures(admin_client)
    content = row(after, CONTENT)
    assert content["requests"] - row(before, CONTENT)["requests"] == 4
    assert content["client_errors"] - row(before, CONTENT)["client_errors"] == 1
    assert content["server_errors"] == 0
    assert 0 < content["p50_ms"] <= content["p99_ms"]
    answered = sum(b["requests"] for b in after["latency"]["buckets"])
    assert answered - sum(b["requests"] for b in before["latency"]["buckets"]) == 4  # only /recommend/...
    assert [b["up_to_ms"] for b in after["latency"]["buckets"]][:3] == [1.0, 2.5, 5.0]
    assert after["latency"]["buckets"][-1]["up_to_ms"] is None  # beyond the last bound


def test_a_repeated_request_is_a_cache_miss_then_a_hit(admin_client):
    before = figures(admin_client)["cache"]
    admin_client.get("/recommend/content/P4?top_k=3")
    admin_client.get("/recommend/content/P4?top_k=3")
    after = figures(admin_client)["cache"]
    assert (after["hits"] - before["hits"], after["misses"] - before["misses"]) == (1, 1)
    assert after["hit_ratio"] == round(after["hits"] / (after["hits"] + after["misses"]), 4)
    assert after["enabled"] is True


def test_events_per_hour_are_the_builds_count_then_the_feedback_posted_since(admin_client):
    events = figures(admin_client)["events"]
    # the log's latest event is U6's view at 2024-01-07 08:00; the 48 hours before it hold U6's
    # two views (U5's purchase at 2024-01-05 08:00 is 48 hours before the last: outside)
    assert events["until"] == "2024-01-07T08:00:00"
    assert len(events["hours"]) == 48 and events["hours"][0] == "2024-01-05T09:00:00"
    assert list(events["counts"]) == ["view"]
    assert {hour: n for hour, n in zip(events["hours"], events["counts"]["view"], strict=True) if n} == {
        "2024-01-06T08:00:00": 1,
        "2024-01-07T08:00:00": 1,
    }
    assert events["feedback"] == "ok"

    for ts in ("2024-01-07T09:30:00Z", "2024-01-07T09:45:00Z"):
        posted = admin_client.post(
            "/feedback", json={"user_id": "U1", "product_id": "P2", "action": "clicked", "ts": ts}
        )
        assert posted.status_code == 202
    events = figures(admin_client)["events"]
    assert events["until"] == "2024-01-07T09:00:00"
    assert events["hours"][-1] == "2024-01-07T09:00:00"
    assert {action: n[-1] for action, n in events["counts"].items()} == {"clicked": 2, "view": 0}


def test_the_build_says_what_serves_by_default_and_why(admin_client, demo_model):
    build = figures(admin_client)["build"]  # the tiny store: too short a log for the ranker
    assert build["default_strategy"] == "collaborative"
    assert build["why"].startswith("no ranker serves: ")
    assert build["check"] is None
    assert build["interactions"] == 13 and build["seconds"] >= 0 and build["at"].endswith("Z")
    assert "activity" not in admin_client.get("/health").get_json()["built"]

    trained = overview.build(demo_model)  # the demo store's model trains its ranker
    assert trained["default_strategy"] == "ranked"
    assert trained["why"].startswith("the ranker (")
    assert trained["check"]["ranker_ndcg"] > trained["check"]["blend_ndcg"]


def test_a_latency_quantile_is_interpolated_within_its_bucket():
    # 10 requests, all between 1 and 2.5 ms: the median is half way into that bucket
    cumulative = [0] + [10] * len(monitoring.LATENCY_BOUNDS)
    assert monitoring.quantile(0.5, cumulative) == pytest.approx(0.00175)
    assert monitoring.quantile(0.5, [0] * (len(monitoring.LATENCY_BOUNDS) + 1)) is None
    beyond = [0] * len(monitoring.LATENCY_BOUNDS) + [4]  # all slower than the last bound
    assert monitoring.quantile(0.99, beyond) == monitoring.LATENCY_BOUNDS[-1]


def test_the_builds_hourly_counts_end_with_the_latest_event():
    log = pd.DataFrame(
        {
            "interaction_type": ["view", "view", "purchase", "view"],
            "ts": pd.to_datetime(
                ["2024-03-01T00:10", "2024-03-01T02:59", "2024-03-01T02:00", "2024-02-01T00:00"]
            ),
        }
    )
    counted = hourly(log, hours=3)
    assert counted == {"start": "2024-03-01T00:00:00", "counts": {"purchase": [0, 0, 1], "view": [1, 0, 1]}}
    assert hourly(log.iloc[:0]) == {}
