"""The A/B route (each user's variant, recorded as an exposure) and the experiment's report."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, Response, current_app
from werkzeug.exceptions import BadRequest

from recommender.errors import FeedbackUnavailableError
from recommender.experiments import ab_report
from web.ask import NEW_PRODUCT_STRATEGIES, Ask
from web.auth import require_token_if_set
from web.caching import cached
from web.services import current_model, services

log = logging.getLogger(__name__)

bp = Blueprint("experiments", __name__)


@bp.get("/recommend/ab")
@cached("user_id", "product_id", "top_k", experiment=True)
def recommend_ab(ask: Ask) -> dict:
    user_id = ask.id("user_id")
    if user_id is None:
        raise BadRequest("user_id is required")
    variant = ask.variant or ask.svc.router.assign(user_id)  # assigned once, by @cached
    model = ask.model
    answer = lambda n, product: model.by_strategy(variant, user_id, product, n)  # noqa: E731
    textual = variant == "content" and ask.id("product_id") is not None
    found = ask.shelve(
        answer, ask.id("product_id"), user_id, textual, new_products=variant in NEW_PRODUCT_STRATEGIES
    )
    return {"variant": variant, **found}


@bp.get("/ab/report")
def ab_report_view() -> Response:
    """The current experiment's report (behind the admin token when one is set)."""
    svc = services()
    require_token_if_set(svc.config)
    if svc.exposures is not None:
        svc.exposures.flush()  # this worker's latest exposures; other workers' are at most a second old
    try:
        live = svc.live_catalog(current_model())
        prices = live.price_of if live.has_prices else None
        report = ab_report.build(svc.feedback.engine, svc.experiment, svc.config.ab_variants, prices)
    except sa.exc.SQLAlchemyError as exc:
        log.error("A/B report unavailable: %s", exc)
        raise FeedbackUnavailableError("the feedback store is unavailable; retry later") from exc
    response = current_app.json.response(report)
    response.headers["Cache-Control"] = "no-store"
    return response
