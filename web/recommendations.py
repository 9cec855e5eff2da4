"""Recommendation routes: similar products, a user's list, and the hybrid of the two."""

from __future__ import annotations

from flask import Blueprint
from werkzeug.exceptions import BadRequest

from recommender.models.hybrid import Scored
from recommender.serving.service import STRATEGIES
from web.ask import FILTERS, NEW_PRODUCT_STRATEGIES, PRODUCT_ID, TOP_K, USER_ID, Ask
from web.caching import cached
from web.declare import answer, choice, error, in_path, route, weight

bp = Blueprint("recommendations", __name__)

RECOMMENDATIONS = answer("Recommendations, best first", "Recommendations")
UNKNOWN_PRODUCT = error("Unknown product")
STRATEGY = choice(
    "strategy",
    "answer with this strategy instead of the default (ranked when trained, else collaborative)",
    STRATEGIES,
)
W_CONTENT = weight("w_content", "weight of the content part", lambda config: config.hybrid_w_content)
W_CF = weight("w_cf", "weight of the collaborative part", lambda config: config.hybrid_w_cf)


@route(
    bp,
    "GET",
    "/recommend/content/<path:product_id>",
    through=cached(),
    summary="Products most like this one by their text, never the product itself",
    params=(in_path("product_id", "the product"), TOP_K, *FILTERS),
    responses={"200": RECOMMENDATIONS, "404": UNKNOWN_PRODUCT},
)
def recommend_content(ask: Ask, product_id: str) -> dict:
    model = ask.model
    return ask.shelve(lambda n, product: model.similar_rows(product, n), product_id, textual=True)


@route(
    bp,
    "GET",
    "/recommend/user/<path:user_id>",
    through=cached(),
    summary="Items for this user that they do not have yet, ordered by the learned ranker when the "
    "model has one (else by the collaborative model); what sells for a user never seen",
    params=(in_path("user_id", "the user"), TOP_K, STRATEGY, *FILTERS),
    responses={"200": RECOMMENDATIONS},
)
def recommend_user(ask: Ask, user_id: str) -> dict:
    model = ask.model
    strategy = ask.value(STRATEGY) or model.user_strategy
    answer = lambda n, _: model.rows_by_strategy(strategy, user_id, None, n)  # noqa: E731
    return ask.shelve(answer, user_id=user_id, new_products=strategy in NEW_PRODUCT_STRATEGIES)


@route(
    bp,
    "GET",
    "/recommend/hybrid",
    through=cached(),
    summary="A blend of items like the product (content) and items for the user (collaborative); "
    "give user_id, product_id or both. Each list is scaled to [0, 1] before weighting. "
    "With user_id, no weights, and no product_id or the user's latest item, a model with a "
    "trained ranker answers with the user's ranked list instead.",
    params=(USER_ID, PRODUCT_ID, TOP_K, W_CONTENT, W_CF, *FILTERS),
    responses={"200": RECOMMENDATIONS, "404": UNKNOWN_PRODUCT},
)
def recommend_hybrid(ask: Ask) -> dict:
    user_id, product_id = ask.value(USER_ID), ask.value(PRODUCT_ID)
    if user_id is None and product_id is None:
        raise BadRequest("give user_id, product_id or both")
    w_content, w_cf = ask.value(W_CONTENT), ask.value(W_CF)
    if w_content == 0 and w_cf == 0:
        raise BadRequest("w_content and w_cf cannot both be 0")
    model = ask.model
    # A user with no weights asked for, without a product or with their latest item: the ranker's
    # list (from the build, a lookup). Another product: the blend, since ranking the user's
    # candidates around it now costs about 3 ms, three times the blend.
    weighted = ask.arg("w_content") is not None or ask.arg("w_cf") is not None

    def answer(n: int, product: str | None) -> Scored:
        if (
            model.ranked is not None
            and user_id is not None
            and not weighted
            and model.is_latest(user_id, product)
        ):
            return model.ranked_rows(user_id, product, n)
        if user_id is None and product is None:  # a product the models do not know yet, alone
            return model.rows_by_strategy("popularity", None, None, n)
        return model.hybrid_rows(user_id, product, n, w_content=w_content, w_cf=w_cf)

    return ask.shelve(answer, product_id, user_id, new_products=True)
