"""Operations: health, metrics, and the background rebuild behind the admin token."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from config import Config
from recommender.build import model_settings, store_inputs
from recommender.serving.service import Recommender
from recommender.storage.catalog_changes import CatalogStore
from recommender.storage.feedback import FeedbackStore
from web import monitoring
from web.auth import is_admin, require_admin, require_token_if_set
from web.declare import answer, error, other, route
from web.overview import build_facts, overview
from web.services import Services, current_model, services

bp = Blueprint("admin", __name__)

ADMIN_ONLY = {
    "401": error("Missing or wrong admin token"),
    "404": error("ADMIN_TOKEN is not set: the admin routes do not exist"),
}


@route(
    bp,
    "GET",
    "/health",
    summary="The service is up: the model version, the cache's state, catalog and user counts, "
    "whether a ranker was trained (and why not)",
    responses={"200": answer("Up", "Health")},
)
def health() -> dict:
    svc, model = services(), current_model()
    return {
        "status": "ok",
        "model_version": model.version,
        "cache": svc.cache.ping(),
        "products": len(model.catalog),
        "users": model.history.n_users,
        "built": build_facts(model),
        "feedback_store": svc.feedback.state,
        "ranker": {"trained": model.ranked is not None, "reason": model.ranker_reason},
        "reload": _reload_status(svc),
    }


def _reload_status(svc: Services) -> dict:
    """How the last rebuild went; why it failed (which may name files or hosts) for the admin only."""
    status = svc.reloader.status()
    if "error" in status and not is_admin(svc.config):
        status = {k: v for k, v in status.items() if k != "error"}
        status["error_hidden"] = "send the admin token to see why"
    return status


@route(
    bp,
    "GET",
    "/metrics",
    summary="Request counts and latencies by route, cache hits and misses, feedback events stored "
    "(Prometheus text format; under gunicorn, all workers added up)",
    responses={"200": other("Prometheus text format", "text/plain")},
)
def metrics() -> Response:
    body, content_type = monitoring.exposition()
    return current_app.response_class(body, content_type=content_type)


@route(
    bp,
    "GET",
    "/stats",
    summary="The service's figures, as the console's overview draws them: requests, errors and "
    "latency per route, the cache's hit ratio, events per hour by action, and the latest build with "
    "what serves /recommend/user and why (request figures since start, all workers added up)",
    responses={
        "200": answer("The figures", "Overview"),
        "401": error("ADMIN_TOKEN is set and the request does not carry it"),
    },
    security=("", "admin"),
)
def stats() -> dict:
    """The figures (behind the admin token when one is set)."""
    svc = services()
    require_token_if_set(svc.config)
    return overview(current_model(), svc.feedback, svc.config.cache_enabled)


@route(
    bp,
    "POST",
    "/admin/reload",
    summary="Rebuild the models from the store's data (the database, or the CSV files) and the stored "
    "feedback, in the background",
    responses={"202": answer("Started, or already running", "Reload"), **ADMIN_ONLY},
    security=("admin",),
)
def admin_reload() -> tuple[dict, int]:
    """Rebuild from the store's data and all stored feedback in the background; every worker then switches."""
    svc = services()
    require_admin(svc.config)
    started = svc.reloader.start(lambda: rebuild(svc.config, svc.feedback))
    state = "started" if started else "already running"
    return {"status": state, "model_version": current_model().version, "reload": svc.reloader.status()}, 202


@route(
    bp,
    "GET",
    "/admin/reload",
    summary="The state of the last rebuild",
    responses={"200": answer("The state", "Reload"), **ADMIN_ONLY},
    security=("admin",),
)
def admin_reload_status() -> dict:
    svc = services()
    require_admin(svc.config)
    return {"model_version": current_model().version, "reload": svc.reloader.status()}


def rebuild(config: Config, feedback: FeedbackStore) -> Recommender:
    """A model of the store as it is now (the database, else the CSV files), plus every usable
    stored feedback event and the catalog changes."""
    stored = feedback.snapshot()
    model = Recommender.from_inputs(
        store_inputs(config),
        model_settings(config),
        feedback=stored.events,
        feedback_last_id=stored.last_id,
        catalog_changes=CatalogStore(feedback.engine).after(0),
    )
    model.built["feedback_skipped"] = stored.skipped  # shown by /health
    return model
