"""Shoppers' events: POST /feedback (behind the events token and rate limits) and a shopper's history."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, request
from werkzeug.exceptions import BadRequest, NotFound, Unauthorized

from recommender.errors import UnknownProductError
from recommender.storage.feedback import ACTIONS, FeedbackEvent
from recommender.validation import MAX_EVENT_ID_LENGTH
from web import monitoring
from web.auth import bearer, require_token_if_set
from web.declare import answer, body_choice, body_id, body_time, error, in_path, route
from web.params import MAX_BODY_BYTES, MAX_CLOCK_SKEW
from web.services import current_model, services

USER_EVENTS = 20  # events GET /users/<id> shows

bp = Blueprint("feedback", __name__)


USER = body_id("user_id", "the user", required=True)
PRODUCT = body_id("product_id", "the product", required=True)
ACTION = body_choice("action", "what the user did", ACTIONS)
TS = body_time("ts", "ISO 8601; default: now; from 1970-01-01 to 5 minutes ahead of the server's clock")
RECOMM = body_id("recomm_id", "the recomm_id of the answer the event came from", limit=MAX_EVENT_ID_LENGTH)
EVENT = body_id("event_id", "a retry with it is stored once", limit=MAX_EVENT_ID_LENGTH)


@route(
    bp,
    "POST",
    "/feedback",
    summary="Store an interaction durably; it shapes the user's next answers",
    body="Feedback",
    fields=(USER, PRODUCT, ACTION, TS, RECOMM, EVENT),
    responses={
        "202": answer("Stored (committed)", "Received"),
        "400": error("A malformed or out-of-range field"),
        "401": error("EVENTS_TOKEN is set and the request does not carry it"),
        "404": error("Unknown product"),
        "413": error(f"Body over {MAX_BODY_BYTES} bytes"),
        "429": error("Over the events limit per user_id or per client address"),
        "503": error("The feedback store is unavailable: nothing was stored, retry"),
    },
    security=("", "events"),
)
def post_feedback() -> tuple[dict, int]:
    svc = services()
    config = svc.config
    if config.events_token is not None and not bearer(config.events_token):  # counts for no limit
        raise Unauthorized("send the events token: Authorization: Bearer <EVENTS_TOKEN>")
    body = request.get_json(force=True, silent=True)
    svc.event_limits.check(body.get("user_id") if isinstance(body, dict) else None, request.remote_addr)
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object: {"user_id", "product_id", "action", "ts"?}')
    user_id = USER.parse(body.get("user_id"), config)
    product_id = PRODUCT.parse(body.get("product_id"), config)
    action = ACTION.parse(body.get("action"), config)
    if not svc.live_catalog(current_model()).knows(product_id):
        raise UnknownProductError(product_id)
    event_id = EVENT.parse(body.get("event_id"), config)
    recomm = RECOMM.parse(body.get("recomm_id"), config)
    now = datetime.now(UTC).replace(tzinfo=None)
    ts = TS.parse(body.get("ts"), config) or now
    if ts > now + MAX_CLOCK_SKEW:  # a later time would become the log's end at the next rebuild
        raise BadRequest(f"ts is in the future: more than {MAX_CLOCK_SKEW} ahead of the server's clock")
    event = FeedbackEvent(
        user_id, product_id, action, ts, received_at=now, event_id=event_id, recomm_id=recomm
    )
    svc.feedback.add(event)
    monitoring.FEEDBACK.inc()
    svc.news.bump()
    svc.sync_feedback(current_model())
    return {"status": "received"}, 202


SHOPPER = in_path("user_id", "the user")


@route(
    bp,
    "GET",
    "/users/<path:user_id>",
    summary="The user's latest events (from the log the model was built on, and feedback stored "
    "since), newest first, and their A/B variant",
    params=(SHOPPER,),
    responses={
        "200": answer("The user", "User"),
        "401": error("ADMIN_TOKEN is set and the request does not carry it"),
        "404": error("A user never seen"),
    },
    security=("", "admin"),
)
def user_history(user_id: str) -> dict:
    """The user's latest events (from the log the model was built on, and stored since), newest
    first; behind the admin token when one is set (a shopper's history is theirs)."""
    svc = services()
    require_token_if_set(svc.config)
    model = current_model()
    user_id = SHOPPER.parse(user_id, svc.config)
    live = svc.live_catalog(model)
    stored = svc.feedback.recent_of(user_id, USER_EVENTS)
    row = model.history.user_index.get(user_id)
    logged = model.history.recent.of(row) if row is not None and model.history.recent is not None else []
    if row is None and not stored:
        raise NotFound(f"no user {user_id!r}: no interaction in the log and no feedback stored")
    ids = model.catalog.product_ids
    events = [(pid, action, ts, "feedback") for pid, action, ts in stored]
    events += [(ids[item], action, ts.replace(tzinfo=None), "log") for item, action, ts in logged]
    events.sort(key=lambda e: e[2], reverse=True)
    return {
        "user_id": user_id,
        "variant": svc.router.assign(user_id),
        "items": len(model.items_of(user_id)),
        "events": [
            {
                "product_id": pid,
                "title": live.title(pid) if live.knows(pid) else None,
                "action": action,
                "ts": ts.isoformat() + "Z",
                "source": source,
            }
            for pid, action, ts, source in events[:USER_EVENTS]
        ],
    }
