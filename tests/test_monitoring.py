"""/metrics: requests by route and status, latencies, cache hits and misses, stored feedback."""

from __future__ import annotations

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

CONTENT = "/recommend/content/<path:product_id>"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_requests_are_counted_by_route_template_and_status(client) -> None:
    before = {
        "ok": value("recsys_requests_total", route=CONTENT, method="GET", status="200"),
        "unknown product": value("recsys_requests_total", route=CONTENT, method="GET", status="404"),
        "no route": value("recsys_requests_total", route="unmatched", method="GET", status="404"),
        "timed": value("recsys_request_duration_seconds_count", route=CONTENT),
    }
    for url in ("/recommend/content/P1", "/recommend/content/P2?top_k=2", "/recommend/content/NOPE", "/nope"):
        client.get(url)
    assert value("recsys_requests_total", route=CONTENT, method="GET", status="200") - before["ok"] == 2
    assert (
        value("recsys_requests_total", route=CONTENT, method="GET", status="404") - before["unknown product"]
        == 1
    )
    assert (
        value("recsys_requests_total", route="unmatched", method="GET", status="404") - before["no route"]
        == 1
    )
    assert value("recsys_request_duration_seconds_count", route=CONTENT) - before["timed"] == 3


def test_a_refused_request_is_counted_under_the_route_it_asked(client) -> None:
    before = value("recsys_requests_total", route=CONTENT, method="GET", status="400")
    assert client.get("/recommend/content/P1?top_k=zero").status_code == 400
    assert value("recsys_requests_total", route=CONTENT, method="GET", status="400") - before == 1


def test_cache_hits_and_misses_are_counted(client) -> None:
    hits, misses = (
        value("recsys_cache_lookups_total", result="hit"),
        value("recsys_cache_lookups_total", result="miss"),
    )
    first = client.get("/recommend/user/U1?top_k=3").get_json()
    second = client.get("/recommend/user/U1?top_k=3").get_json()
    assert (first["source"], second["source"]) == ("model", "cache")
    assert value("recsys_cache_lookups_total", result="miss") - misses == 1
    assert value("recsys_cache_lookups_total", result="hit") - hits == 1


def test_a_refused_request_counts_no_cache_lookup(client) -> None:
    lookups = value("recsys_cache_lookups_total", result="miss") + value(
        "recsys_cache_lookups_total", result="hit"
    )
    assert client.get("/recommend/content/NOPE").status_code == 404
    assert client.get("/recommend/user/U1?top_k=0").status_code == 400
    after = value("recsys_cache_lookups_total", result="miss") + value(
        "recsys_cache_lookups_total", result="hit"
    )
    assert after == lookups


def test_stored_feedback_is_counted_and_rejected_feedback_is_not(client) -> None:
    before = value("recsys_feedback_events_total")
    assert (
        client.post("/feedback", json={"user_id": "U9", "product_id": "P1", "action": "view"}).status_code
        == 202
    )
    assert (
        client.post("/feedback", json={"user_id": "U9", "product_id": "P1", "action": "?"}).status_code == 400
    )
    assert value("recsys_feedback_events_total") - before == 1


def test_metrics_are_served_in_prometheus_text_format(client) -> None:
    client.get("/health")
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    names = {family.name for family in text_string_to_metric_families(response.get_data(as_text=True))}
    assert {"recsys_requests", "recsys_request_duration_seconds", "recsys_cache_lookups"} <= names


def test_a_made_up_method_is_counted_as_other_not_as_a_new_label(client) -> None:
    before = value("recsys_requests_total", route="unmatched", method="other", status="405")
    assert client.open("/recommend/content/P1", method="BREW").status_code == 405
    assert value("recsys_requests_total", route="unmatched", method="BREW", status="405") == 0
    assert value("recsys_requests_total", route="unmatched", method="other", status="405") - before == 1
