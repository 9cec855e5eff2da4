"""The application factory: config, then services, then routes, then error handlers."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from flask import Flask
from flask.json.provider import JSONProvider
from werkzeug.middleware.proxy_fix import ProxyFix

import logs
from config import Config
from web import admin, catalog, console, docs, experiments, feedback, monitoring, recommendations
from web.caching import answer_repeats
from web.direct import answer_directly
from web.errors import register_error_handlers
from web.params import MAX_BODY_BYTES
from web.services import build_services

log = logging.getLogger(__name__)

BLUEPRINTS = (recommendations, feedback, catalog, experiments, admin, console, docs)


class OrjsonProvider(JSONProvider):
    """Fast JSON for every response; rejects NaN and Infinity in request bodies."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)


def create_app(config: Config | None = None, *, redis_client: Any = None) -> Flask:
    """The app for `config` (default: the environment's).

    `redis_client` replaces the client made from REDIS_URL (tests pass a fakeredis client).
    """
    config = config or Config.from_env()
    logs.configure(config.log_format)
    started = time.perf_counter()
    app = Flask("app")
    app.url_map.merge_slashes = False  # an id may start with "/": it is looked up, not redirected
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json = OrjsonProvider(app)
    app.extensions["recommender"] = build_services(config, redis_client)
    for module in BLUEPRINTS:
        app.register_blueprint(module.bp)
    answer_directly(app)  # the recommendation routes' GETs, without Flask's request handling
    if config.trusted_proxies:  # the client's address is the one the proxies in front say they saw
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.trusted_proxies)  # type: ignore[method-assign]
    register_error_handlers(app)
    monitoring.note_routes(app)
    answer_repeats(app)  # inside the request log and metrics: they log and count its answers
    app.wsgi_app = logs.RequestLog(  # type: ignore[method-assign]
        app.wsgi_app,
        monitoring.route_of,
        json_lines=config.log_format == "json",
        observe=monitoring.Measure(),
    )
    model = app.extensions["recommender"].live.current()
    log.info(
        "ready: model %s, %d products, %d users, ranker %s, in %.1f s",
        model.version,
        len(model.catalog),
        model.history.n_users,
        "trained" if model.ranked is not None else f"not trained ({model.ranker_reason})",
        time.perf_counter() - started,
    )
    return app
