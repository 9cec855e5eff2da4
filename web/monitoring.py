"""Prometheus metrics of the HTTP service, exposed at /metrics.

Under gunicorn every worker counts its own requests; gunicorn.conf.py points
PROMETHEUS_MULTIPROC_DIR at a fresh folder before the app is imported, so prometheus_client
keeps the counts in files there and a scrape, whichever worker answers it, adds up all workers.
Without that variable (`python app.py`, tests) the counts live in the process.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from werkzeug.routing import Rule

REQUESTS = Counter(
    "recsys_requests",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)
LATENCY_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)  # seconds
LATENCY = Histogram(
    "recsys_request_duration_seconds",
    "Time from the request reaching the app to its response, by route template",
    ["route"],
    buckets=LATENCY_BOUNDS,
)
CACHE = Counter("recsys_cache_lookups", "Cache lookups of recommendation routes, by result", ["result"])
CACHE_HITS, CACHE_MISSES = CACHE.labels("hit"), CACHE.labels("miss")
FEEDBACK = Counter("recsys_feedback_events", "Feedback events stored (answered 202)")

UNMATCHED = "unmatched"  # the route label of a request no route took (a 404 for an unknown path)
ROUTE = "recsys.route"  # environ key: the route template of the request
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # others: "other"


class RouteNotingRequest(Request):
    """Flask's request, which leaves the route template it was matched to in its WSGI environ,
    where the request log finds it (route_of()). Flask sets url_rule when the address matches a
    route, before any view runs; it stays None for an address no route takes."""

    _rule: Rule | None = None

    @property  # type: ignore[override]
    def url_rule(self) -> Rule | None:
        return self._rule

    @url_rule.setter
    def url_rule(self, rule: Rule | None) -> None:
        self._rule = rule
        self.environ[ROUTE] = rule.rule if rule is not None else UNMATCHED


def note_routes(app: Flask) -> None:
    """Leave the route template of each request Flask answers in its environ (for route_of()):
    noted by the request as it is matched, which costs less than a hook after every request."""
    app.request_class = RouteNotingRequest


def route_of(environ: dict[str, Any]) -> str:
    """The route template of an answered request (UNMATCHED: no route took it)."""
    return environ.get(ROUTE, UNMATCHED)


class Measure:
    """Counts and times each answered request (logs.RequestLog calls it once per request). The
    metric children are looked up once per label set (labels() takes a lock each time)."""

    def __init__(self) -> None:
        self.counters: dict[tuple[str, str, str], Any] = {}
        self.timers: dict[str, Any] = {}

    def __call__(self, route: str, method: str, status: str, seconds: float) -> None:
        key = (route, method if method in METHODS else "other", status)
        counter = self.counters.get(key)
        if counter is None:
            counter = self.counters[key] = REQUESTS.labels(*key)
        counter.inc()
        timer = self.timers.get(route)
        if timer is None:
            timer = self.timers[route] = LATENCY.labels(route)
        timer.observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    return generate_latest(_registry()), CONTENT_TYPE_LATEST


def totals() -> dict[str, Any]:
    """The counts /metrics shows, added up over workers, as plain numbers: requests per route and
    status, cache lookups by result, and each route's latency histogram (cumulative counts at
    each bound of LATENCY_BOUNDS, then in all)."""
    requests: dict[str, dict[str, int]] = {}
    cache = {"hit": 0, "miss": 0}
    latency: dict[str, dict[float, int]] = {}
    for family in _registry().collect():
        for sample in family.samples:
            labels, value = sample.labels, int(sample.value)
            if sample.name == "recsys_requests_total":
                by_status = requests.setdefault(labels["route"], {})
                by_status[labels["status"]] = by_status.get(labels["status"], 0) + value
            elif sample.name == "recsys_cache_lookups_total":
                cache[labels["result"]] = cache.get(labels["result"], 0) + value
            elif sample.name == "recsys_request_duration_seconds_bucket":
                bounds = latency.setdefault(labels["route"], {})
                bound = float(labels["le"])
                bounds[bound] = bounds.get(bound, 0) + value
    histograms = {
        route: [bounds.get(b, 0) for b in (*LATENCY_BOUNDS, float("inf"))]
        for route, bounds in latency.items()
    }
    return {"requests": requests, "cache": cache, "latency": histograms}


def quantile(q: float, cumulative: list[int]) -> float | None:
    """The q-quantile of a latency histogram in seconds, by linear interpolation within its bucket
    (as Prometheus' histogram_quantile); the highest bound when it falls beyond it; None if empty."""
    total = cumulative[-1] if cumulative else 0
    if not total:
        return None
    rank = q * total
    lower, below = 0.0, 0
    for bound, count in zip(LATENCY_BOUNDS, cumulative, strict=False):
        if count >= rank:
            return lower + (bound - lower) * (rank - below) / max(count - below, 1)
        lower, below = bound, count
    return LATENCY_BOUNDS[-1]


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # every worker's files, added up
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY
