"""Recommendation routes: similar products, a user's list, and the hybrid of the two."""

from __future__ import annotations

from flask import Blueprint
from werkzeug.exceptions import BadRequest

from recommender.serving.service import STRATEGIES, Recommendation
from web.ask import NEW_PRODUCT_STRATEGIES, Ask
from web.caching import cached

bp = Blueprint("recommendations", __name__)


@bp.get("/recommend/content/<path:product_id>")
@cached("top_k")
def recommend_content(ask: Ask, product_id: str) -> dict:
    model = ask.model
    return ask.shelve(lambda n, product: model.similar(product, n), product_id, textual=True)


@bp.get("/recommend/user/<path:user_id>")
@cached("top_k", "strategy")
def recommend_user(ask: Ask, user_id: str) -> dict:
    model = ask.model
    strategy = ask.arg("strategy") or model.user_strategy
    if strategy not in STRATEGIES:
        raise BadRequest(f"strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}")
    answer = lambda n, _: model.by_strategy(strategy, user_id, None, n)  # noqa: E731
    return ask.shelve(answer, user_id=user_id, new_products=strategy in NEW_PRODUCT_STRATEGIES)


@bp.get("/recommend/hybrid")
@cached("user_id", "product_id", "top_k", "w_content", "w_cf")
def recommend_hybrid(ask: Ask) -> dict:
    user_id, product_id = ask.id("user_id"), ask.id("product_id")
    if user_id is None and product_id is None:
        raise BadRequest("give user_id, product_id or both")
    w_content = ask.weight("w_content", ask.svc.config.hybrid_w_content)
    w_cf = ask.weight("w_cf", ask.svc.config.hybrid_w_cf)
    if w_content == 0 and w_cf == 0:
        raise BadRequest("w_content and w_cf cannot both be 0")
    model = ask.model
    # A user with no weights asked for, without a product or with their latest item: the ranker's
    # list (from the build, a lookup). Another product: the blend, since ranking the user's
    # candidates around it now costs about 3 ms, three times the blend.
    weighted = ask.arg("w_content") is not None or ask.arg("w_cf") is not None

    def answer(n: int, product: str | None) -> list[Recommendation]:
        if (
            model.ranked is not None
            and user_id is not None
            and not weighted
            and model.is_latest(user_id, product)
        ):
            return model.ranked_for(user_id, product, n)
        if user_id is None and product is None:  # a product the models do not know yet, alone
            return model.by_strategy("popularity", None, None, n)
        return model.hybrid(user_id, product, n, w_content, w_cf)

    return ask.shelve(answer, product_id, user_id, new_products=True)
