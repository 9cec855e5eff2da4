"""The cache in front of every recommendation route: the `cached` decorator."""

from __future__ import annotations

import functools
from collections.abc import Callable

import orjson
from flask import Response, current_app, g, request

import logs
from recommender.experiments.ab_testing import new_recomm_id
from recommender.serving.cache import digest
from web import monitoring
from web.ask import Ask
from web.declare import Route
from web.params import checked_id
from web.services import Services, services


def cached(experiment: bool = False) -> Callable[[Callable[..., dict], Route], Callable[..., Response]]:
    """Serve the view's JSON from the cache when the same path and query were answered before.

    The key is a digest of the route, the path, the route's declared query parameters as sent,
    and the model version, so no two requests that could differ share an entry. Only answers are
    stored, never errors. The stored JSON is sent as it is, with "source" and a new "recomm_id"
    put in front (`experiment`: the answer is an A/B variant's, and its id names the variant).
    Given to declare.route() as `through`.
    """

    def decorator(view: Callable[..., dict], declared: Route) -> Callable[..., Response]:
        keyed = declared.query
        in_path = [p for p in declared.params if p.where == "path"]

        @functools.wraps(view)
        def wrapper(**view_args: str) -> Response:
            svc = services()
            model = g.model = svc.live.current()  # pinned: a reload never splits one request
            query = request.args
            for param in in_path:  # the path's id, checked as declared
                param.parse(view_args[param.name], svc.config)
            user_id = view_args.get("user_id") or (
                checked_id("user_id", query["user_id"]) if "user_id" in query else None
            )
            if user_id:  # a personal answer: it must reflect the user's feedback so far
                svc.sync_feedback(model)
            variant = svc.router.assign(user_id.strip()) if experiment and user_id else None
            ask = Ask(svc, model, query, svc.live_catalog(model), variant)
            response = _answer(svc, ask, view, view_args, keyed, user_id)
            if variant is not None:
                request.environ[logs.VARIANT] = variant
            if variant is not None and svc.exposures is not None:  # shown to the user: an exposure
                svc.exposures.record(svc.experiment, user_id.strip(), variant)
            return response

        return wrapper

    return decorator


def _answer(
    svc: Services, ask: Ask, view: Callable[..., dict], view_args: dict, params: tuple, user_id: str | None
) -> Response:
    """The view's answer, from the cache when the same request was answered before."""
    model = ask.model
    tag = b'","recomm_id":"' + new_recomm_id(svc.experiment, ask.variant).encode() + b'",'
    environ = request.environ
    if not svc.cache.enabled:
        environ[logs.SOURCE] = "model"
        return _json(b'{"source":"model' + tag, orjson.dumps(view(ask, **view_args)))
    args = {p: ask.args[p] for p in params if p in ask.args}
    # The user's feedback count is part of the key: an answer from before an event is never reused.
    seen = model.feedback.events.get(user_id.strip(), 0) if user_id else 0
    # A new model, experiment or catalog change that can change an answer: new keys.
    namespace = f"{model.version}:{svc.experiment}:{ask.live.version}"
    key = digest(namespace, {"route": request.endpoint, "path": view_args, "args": args, "feedback": seen})
    hit = svc.cache.get(key)
    if hit is not None and hit.startswith(b"{"):
        monitoring.CACHE_HITS.inc()
        environ[logs.SOURCE] = "cache"
        return _json(b'{"source":"cache' + tag, hit)
    monitoring.CACHE_MISSES.inc()
    body = orjson.dumps(view(ask, **view_args))
    svc.cache.set(key, body)
    environ[logs.SOURCE] = "model"
    return _json(b'{"source":"model' + tag, body)


def _json(head: bytes, body: bytes) -> Response:
    """A JSON object response: `head` opens it, then the fields of the object `body`."""
    return current_app.response_class(head + body[1:], mimetype="application/json")
