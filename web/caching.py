"""The cache in front of every recommendation route, in two tiers.

- Each worker's memory (`Repeats`, WSGI middleware in front of Flask): a GET whose path and
  query this worker answered before is answered again before Flask sees it, as long as the
  state that answer came from still holds (the same model, the catalog unchanged, and for a
  personal answer the user's feedback count the same). It costs a dictionary lookup and a few
  checks, less than Flask's own request handling.
- Redis (the `cached` decorator around each view), shared by workers and replicas: the key is a
  digest of the route, path, declared query parameters and those same versions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from flask import Flask, Response, request

import logs
from recommender.experiments.ab_testing import new_recomm_id
from recommender.serving.cache import digest
from web import monitoring
from web.ask import Ask
from web.declare import Route
from web.params import checked_id
from web.services import Services, services, services_of


def cached(experiment: bool = False) -> Callable[[Callable[..., dict], Route], Callable[..., Response]]:
    """Serve the view's JSON from the cache when the same path and query were answered before.

    The key is a digest of the route, the path, the route's declared query parameters as sent,
    and the model version, so no two requests that could differ share an entry. Only answers are
    stored, never errors. The stored JSON is sent as it is, with "source" and a new "recomm_id"
    put in front (`experiment`: the answer is an A/B variant's, and its id names the variant).
    Given to declare.route() as `through`. The view Flask calls carries `answer_get`, which
    answers a GET from its parts without Flask (web/direct.py).
    """

    def decorator(view: Callable[..., dict], declared: Route) -> Callable[..., Response]:
        in_path = [p for p in declared.params if p.where == "path"]

        def answer_get(svc: Services, asked: Asked) -> bytes:
            """The JSON answer of a request to this route (an exception: the view refused it)."""
            model = svc.live.current()  # once: a reload never splits one request
            query, view_args = asked.args, asked.view_args
            for param in in_path:  # the path's id, checked as declared
                param.parse(view_args[param.name], svc.config)
            user_id = view_args.get("user_id") or (
                checked_id("user_id", query["user_id"]) if "user_id" in query else None
            )
            if user_id:  # a personal answer: it must reflect the user's feedback so far
                svc.sync_feedback(model)
            variant = svc.router.assign(user_id.strip()) if experiment and user_id else None
            ask = Ask(svc, model, query, svc.live_catalog(model), variant)
            body = _answer(svc, ask, view, declared, asked, user_id)
            if variant is not None:
                asked.environ[logs.VARIANT] = variant
            if variant is not None and svc.exposures is not None:  # shown to the user: an exposure
                svc.exposures.record(svc.experiment, user_id.strip(), variant)
            return body

        @functools.wraps(view)
        def wrapper(**view_args: str) -> Response:
            req = request._get_current_object()  # type: ignore[attr-defined]  # once, not through the proxy each time
            asked = Asked(req.args, view_args, req.environ, req.endpoint or "", req.method)
            return Response(answer_get(services(), asked), content_type="application/json")

        wrapper.answer_get = answer_get  # type: ignore[attr-defined]
        return wrapper

    return decorator


@dataclass(frozen=True, slots=True)
class Asked:
    """What a request to a cached route asked: its query, the values its path gave the route's
    parameters, its WSGI environ, the route's endpoint and the method."""

    args: Mapping[str, str]
    view_args: dict[str, Any]
    environ: dict[str, Any]
    endpoint: str
    method: str


def _answer(
    svc: Services,
    ask: Ask,
    view: Callable[..., dict],
    declared: Route,
    asked: Asked,
    user_id: str | None,
) -> bytes:
    """The view's answer as a JSON object, from the cache when the same request was answered before."""
    model = ask.model
    tag = b'","recomm_id":"' + new_recomm_id(svc.experiment, ask.variant).encode() + b'",'
    environ, view_args = asked.environ, asked.view_args
    if not svc.cache.enabled:
        environ[logs.SOURCE] = "model"
        return _json(b'{"source":"model' + tag, orjson.dumps(view(ask, **view_args)))
    args = {p: ask.args[p] for p in declared.query if p in ask.args}
    # The user's feedback count is part of the key: an answer from before an event is never reused.
    user_id = user_id.strip() if user_id else None
    seen = model.feedback.events.get(user_id, 0) if user_id else 0
    # A new model, experiment or catalog change that can change an answer: new keys.
    namespace = f"{model.version}:{svc.experiment}:{ask.live.version}"
    key = digest(namespace, {"route": asked.endpoint, "path": view_args, "args": args, "feedback": seen})
    hit = svc.cache.get(key)
    source = "cache" if hit is not None and hit.startswith(b"{") else "model"
    if source == "cache":
        monitoring.CACHE_HITS.inc()
        body = hit
    else:
        body = orjson.dumps(view(ask, **view_args))
        monitoring.CACHE_MISSES.inc()  # once answered: a refused request is no lookup
        svc.cache.set(key, body)
    if asked.method == "GET":
        kept = Kept(body, declared.rule, model.version, ask.live.version, user_id, seen, ask.variant)
        svc.memory.keep(_memory_key(environ), kept)
    environ[logs.SOURCE] = source
    return _json(b'{"source":"' + source.encode() + tag, body)


def _json(head: bytes, body: bytes) -> bytes:
    """A JSON object: `head` opens it, then the fields of the object `body`."""
    return head + body[1:]


def send_json(body: bytes, start_response: Callable[..., Any]) -> list[bytes]:
    """A 200 JSON answer, sent straight to the WSGI server by the middleware in front of Flask."""
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _memory_key(environ: dict[str, Any]) -> tuple[str | None, str | None]:
    """What a GET asked, as the worker's memory keys its answer: the path and the query as sent."""
    return environ.get("PATH_INFO"), environ.get("QUERY_STRING")


@dataclass(frozen=True, slots=True)
class Kept:
    """An answer in a worker's memory, and the state it was answered in."""

    body: bytes  # the answer's JSON object, without source and recomm_id
    route: str  # the route's template, for the metrics and the request's log line
    model: str  # the model's version
    catalog: int  # the live catalog's version
    user: str | None  # a personal answer's user, and their feedback count then
    seen: int
    variant: str | None  # an A/B answer's variant: each answer is an exposure


class Repeats:
    """WSGI middleware: a GET this worker answered before, answered again from its memory
    while the state the answer came from holds (else Flask answers it, through the cache)."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]], svc: Services) -> None:
        self.wsgi_app = wsgi_app
        self.svc = svc

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET":
            kept = self.svc.memory.get(_memory_key(environ))
            if kept is not None and self._holds(kept):
                return self._send(kept, environ, start_response)
        return self.wsgi_app(environ, start_response)

    def _holds(self, kept: Kept) -> bool:
        svc = self.svc
        model = svc.live.current()
        if model.version != kept.model or svc.live_catalog(model).version != kept.catalog:
            return False
        if kept.user is None:
            return True
        svc.sync_feedback(model)
        return model.feedback.events.get(kept.user, 0) == kept.seen

    def _send(self, kept: Kept, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        svc = self.svc
        recomm_id = new_recomm_id(svc.experiment, kept.variant).encode()
        body = b'{"source":"cache","recomm_id":"' + recomm_id + b'",' + kept.body[1:]
        environ[monitoring.ROUTE] = kept.route
        environ[logs.SOURCE] = "cache"
        monitoring.CACHE_HITS.inc()
        if kept.variant is not None:
            environ[logs.VARIANT] = kept.variant
            if svc.exposures is not None:
                svc.exposures.record(svc.experiment, kept.user, kept.variant)
        return send_json(body, start_response)


def answer_repeats(app: Flask) -> None:
    """Put each worker's memory of answers in front of `app` (when the cache is on)."""
    svc = services_of(app)
    if svc.cache.enabled and svc.memory.entries > 0:
        app.wsgi_app = Repeats(app.wsgi_app, svc)  # type: ignore[method-assign]
