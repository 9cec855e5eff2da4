"""Prometheus metrics of the HTTP service, exposed at /metrics.

Under gunicorn every worker counts its own requests; gunicorn.conf.py points
PROMETHEUS_MULTIPROC_DIR at a fresh folder before the app is imported, so prometheus_client
keeps the counts in files there and a scrape, whichever worker answers it, adds up all workers.
Without that variable (`python app.py`, tests) the counts live in the process.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "recsys_requests",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "recsys_request_duration_seconds",
    "Time from the request reaching the app to its response, by route template",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
CACHE = Counter("recsys_cache_lookups", "Cache lookups of recommendation routes, by result", ["result"])
CACHE_HITS, CACHE_MISSES = CACHE.labels("hit"), CACHE.labels("miss")
FEEDBACK = Counter("recsys_feedback_events", "Feedback events stored (answered 202)")

UNMATCHED = "unmatched"  # the route label of a request no route took (a 404 for an unknown path)
ROUTE = "recsys.route"  # environ key: the route template of the request
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # others: "other"


def note_routes(app: Flask) -> None:
    """Leave the route template of each request Flask answers in its environ (for route_of())."""

    @app.after_request
    def note_route(response: Response) -> Response:
        rule = request.url_rule
        request.environ[ROUTE] = rule.rule if rule is not None else UNMATCHED
        return response


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
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # every worker's files, added up
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST
