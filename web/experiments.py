"""The A/B route (each user's variant, recorded as an exposure) and the experiment's report."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, Response, current_app

from recommender.errors import FeedbackUnavailableError
from recommender.experiments import ab_report
from web.ask import FILTERS, NEW_PRODUCT_STRATEGIES, PRODUCT_ID, TOP_K, Ask
from web.auth import require_token_if_set
from web.caching import cached
from web.declare import answer, error, identifier, route
from web.services import current_model, services

log = logging.getLogger(__name__)

bp = Blueprint("experiments", __name__)

SHOPPER = identifier("user_id", "the user", required=True)


@route(
    bp,
    "GET",
    "/recommend/ab",
    through=cached(experiment=True),
    summary=lambda config: (
        "The answer of the user's A/B variant (MD5 of salt and user; variants "
        + ", ".join(f"{name} ({weight:g})" for name, weight in config.ab_variants)
        + "; the first is the control)"
    ),
    params=(SHOPPER, PRODUCT_ID, TOP_K, *FILTERS),
    responses={
        "200": answer("Recommendations, best first, and the user's variant", "VariantRecommendations"),
        "404": error("Unknown product"),
    },
)
def recommend_ab(ask: Ask) -> dict:
    user_id = ask.value(SHOPPER)
    variant = ask.variant or ask.svc.router.assign(user_id)  # assigned once, by @cached
    model = ask.model
    answer = lambda n, product: model.rows_by_strategy(variant, user_id, product, n)  # noqa: E731
    product_id = ask.value(PRODUCT_ID)
    textual = variant == "content" and product_id is not None
    found = ask.shelve(answer, product_id, user_id, textual, new_products=variant in NEW_PRODUCT_STRATEGIES)
    return {"variant": variant, **found}


@route(
    bp,
    "GET",
    "/ab/report",
    summary="The current experiment (AB_VARIANTS and AB_SALT): per variant, users exposed, "
    "exposures, clicks, carts, purchases and revenue, counted after each user's first "
    "exposure and from answers whose recomm_id the events quote; each variant against "
    "the control (two-proportion z-test, lift with its 95% interval, users needed at "
    "80% power); a sample-ratio check of the split",
    responses={
        "200": answer("The report", "ABReport"),
        "401": error("ADMIN_TOKEN is set and the request does not carry it"),
        "503": error("The feedback store is unavailable, retry"),
    },
    security=("", "admin"),
)
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
