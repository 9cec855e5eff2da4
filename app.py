"""HTTP layer: parse and check parameters, call the recommender facade, render JSON, map errors."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, g, request, send_from_directory
from flask.json.provider import JSONProvider
from flask_limiter import Limiter, RateLimitExceeded
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from werkzeug.middleware.proxy_fix import ProxyFix

import logs
from config import Config, ConfigError
from recommender.build import model_settings
from recommender.errors import DataError, FeedbackUnavailableError, UnknownProductError
from recommender.experiments import ab_report
from recommender.experiments.ab_testing import ABRouter, new_recomm_id
from recommender.serving.artifacts import load_or_build
from recommender.serving.build_lock import BuildLock
from recommender.serving.cache import Cache, connect, digest
from recommender.serving.live_catalog import LiveCatalog
from recommender.serving.reload import LiveModel, Reloader
from recommender.serving.service import STRATEGIES, Recommendation, Recommender
from recommender.serving.shelf import Answer, Filter, Request, shelve
from recommender.serving.signal import ChangeSignal
from recommender.storage.catalog_changes import FIELDS, CatalogStore, Product, parse_product
from recommender.storage.exposures import ExposureLog
from recommender.storage.feedback import ACTIONS, EARLIEST_TS, FeedbackEvent, FeedbackStore
from recommender.validation import id_control
from web import monitoring
from web import openapi as api_docs

log = logging.getLogger(__name__)

CONSOLE = Path(__file__).resolve().parent / "console"  # the console's page, script and style
MAX_BODY_BYTES = 1024 * 1024
MAX_ID_LENGTH = 256
MAX_EVENT_ID_LENGTH = 128
FEEDBACK_RETRY_AFTER_SECONDS = 5
# The strategies an added product can reach users through, by its text.
NEW_PRODUCT_STRATEGIES = ("content", "hybrid", "ranked")
MAX_FILTER_VALUES = 500  # category= and exclude= values per request
MAX_QUERY_LENGTH = 200
MAX_SEARCH_RESULTS = 100
MAX_QUERY_WORDS = 10  # distinct words of q: each one is a pass over the titles that hold the first
USER_EVENTS = 20  # events GET /users/<id> shows
MAX_CLOCK_SKEW = timedelta(minutes=5)  # how far ahead of the server's clock an event's ts may be
# The console loads its own script and style, calls only this service, and shows product images
# from wherever the catalog says they are.
CONSOLE_POLICY = (
    "default-src 'self'; img-src 'self' data: https: http:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass
class Services:
    """What the routes use; built once by create_app and kept in app.extensions['recommender']."""

    config: Config
    live: LiveModel
    reloader: Reloader
    cache: Cache
    router: ABRouter
    feedback: FeedbackStore
    exposures: ExposureLog | None  # None: AB_EXPOSURES=false
    experiment: str  # digest of the A/B set-up: names the experiment and scopes cache keys
    news: ChangeSignal  # bumped after each stored event: other workers then read the store
    catalog: CatalogStore
    catalog_news: ChangeSignal  # bumped after each stored catalog change
    live_catalogs: weakref.WeakKeyDictionary = field(default_factory=weakref.WeakKeyDictionary)

    def live_catalog(self, model: Recommender) -> LiveCatalog:
        """The model's catalog with every stored change applied (by any worker or replica): read
        when a worker of this machine signalled a change, and at least once a second."""
        live = self.live_catalogs.get(model)
        if live is None:
            live = LiveCatalog(model.catalog, model.text, model.popularity, model.catalog_last_id)
            self.live_catalogs[model] = live
        if not live.synced or self.catalog_news.should_look():
            changes = self.catalog.after(live.last_id)
            live.synced = True
            if changes:
                live.apply(changes)
        return live

    def sync_feedback(self, model: Recommender) -> None:
        """Apply the feedback stored since this worker last looked (by any worker or replica).

        The store is read when a worker of this machine signalled a new event, and at least once
        a second (events posted to other replicas).
        """
        if model.feedback.synced and not self.news.should_look():
            return
        events = self.feedback.events_after(model.feedback.last_id)
        model.feedback.synced = True  # a model's first answer always reads the store
        if events:
            model.feedback.apply(events)


class OrjsonProvider(JSONProvider):
    """Fast JSON for every response; rejects NaN and Infinity in request bodies."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)


def create_app(config: Config | None = None, *, redis_client: Any = None) -> Flask:
    """Build config, then services, then routes, then error handlers.

    `redis_client` replaces the client made from REDIS_URL (tests pass a fakeredis client).
    """
    config = config or Config.from_env()
    logs.configure(config.log_format)
    started = time.perf_counter()
    app = Flask(__name__)
    app.url_map.merge_slashes = False  # an id may start with "/": it is looked up, not redirected
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json = OrjsonProvider(app)
    app.extensions["recommender"] = build_services(config, redis_client)
    app.register_blueprint(api)
    if config.trusted_proxies:  # the client's address is the one the proxies in front say they saw
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.trusted_proxies)  # type: ignore[method-assign]
    require_events_token(app, config)  # before the limits: a post without the token counts for nobody
    limit_feedback(app, config, shared=redis_client is None and config.cache_enabled)
    app.after_request(_no_store)
    register_error_handlers(app)
    monitoring.instrument(app)
    app.wsgi_app = logs.RequestLog(  # type: ignore[method-assign]
        app.wsgi_app,
        lambda environ: environ.get(monitoring.ROUTE, monitoring.UNMATCHED),
        json_lines=config.log_format == "json",
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


def require_events_token(app: Flask, config: Config) -> None:
    """With EVENTS_TOKEN set, POST /feedback needs it as a bearer token (401 otherwise)."""
    token = config.events_token
    if token is None:
        return

    @app.before_request
    def events_token() -> None:
        if request.endpoint == "api.feedback" and not _bearer(token):
            raise Unauthorized("send the events token: Authorization: Bearer <EVENTS_TOKEN>")


def limit_feedback(app: Flask, config: Config, shared: bool) -> None:
    """At most FEEDBACK_RATE_LIMIT events per user_id (keyed on the body's user_id: a store's
    backend posts every shopper's events from one address) and FEEDBACK_CLIENT_RATE_LIMIT per
    client address (a new user_id per post is not a way round the first), with Flask-Limiter.
    Counted in Redis, so all workers and replicas share the counts (`shared`; else each process
    counts alone); when Redis fails the limits are open, after at most a short timeout."""
    limits = [
        (config.feedback_rate_limit, _feedback_user, "for this user_id"),
        (config.feedback_client_rate_limit, _feedback_client, "from this client address"),
    ]
    limits = [(rate, key, what) for rate, key, what in limits if rate is not None]
    if not limits:
        return
    limiter = Limiter(
        key_func=_feedback_user,
        app=app,
        storage_uri=config.redis_url if shared else "memory://",
        storage_options={"socket_timeout": 0.1, "socket_connect_timeout": 0.1} if shared else {},
        strategy="fixed-window",
        key_prefix=f"{config.cache_key_prefix}feedback-limit",
        swallow_errors=True,
    )
    for rate, key, what in limits:
        message = f"more than {rate} feedback events {what}; retry after Retry-After seconds"
        limited = limiter.limit(rate, key_func=key, error_message=message)
        app.view_functions["api.feedback"] = limited(app.view_functions["api.feedback"])

    @app.errorhandler(RateLimitExceeded)
    def too_many(exc: RateLimitExceeded):  # type: ignore[no-untyped-def]
        response = _error(exc)
        current = limiter.current_limit
        wait = math.ceil(current.reset_at - time.time()) if current is not None else 60
        response.headers["Retry-After"] = str(max(1, wait))
        return response


def _feedback_user() -> str:
    body = request.get_json(force=True, silent=True)
    user = body.get("user_id") if isinstance(body, dict) else None
    return f"user:{str(user).strip()[:MAX_ID_LENGTH]}" if user is not None else "no-user"


def _feedback_client() -> str:
    return f"client:{request.remote_addr or 'unknown'}"


def build_services(config: Config, redis_client: Any = None) -> Services:
    model = load_or_build(
        config.products_csv, config.interactions_csv, model_settings(config), config.artifacts_dir
    )
    client = None
    if config.cache_enabled:
        client = redis_client if redis_client is not None else connect(config.redis_url)
    router = ABRouter(config.ab_variants, config.ab_salt)
    experiment = repr((config.ab_variants, config.ab_salt)).encode()
    live = LiveModel(model, config.artifacts_dir)
    feedback = FeedbackStore(config.feedback_db)
    built = Services(
        config=config,
        live=live,
        reloader=Reloader(live, BuildLock(feedback.engine, config.artifacts_dir)),
        cache=Cache(
            client,
            config.cache_ttl_seconds,
            prefix=config.cache_key_prefix,
            local_entries=config.cache_local_entries,
        ),
        router=router,
        feedback=feedback,
        exposures=ExposureLog(feedback.engine) if config.ab_exposures else None,
        experiment=hashlib.sha256(experiment).hexdigest()[:8],
        news=ChangeSignal(Path(config.artifacts_dir) / "FEEDBACK_SIGNAL"),
        catalog=CatalogStore(feedback.engine),
        catalog_news=ChangeSignal(Path(config.artifacts_dir) / "CATALOG_SIGNAL"),
    )
    built.sync_feedback(model)
    return built


api = Blueprint("api", __name__)


def services() -> Services:
    return current_app.extensions["recommender"]


def current_model() -> Recommender:
    """The model that answers this request: chosen once per request, so a reload never splits one."""
    if "model" not in g:
        g.model = services().live.current()
    return g.model


@dataclass(frozen=True, slots=True)
class Ask:
    """One recommendation request as its view sees it: looked up once (each lookup through
    Flask's context proxies costs about a microsecond, and a request would make twenty)."""

    svc: Services
    model: Recommender
    args: MultiDict[str, str]
    live: LiveCatalog
    variant: str | None = None  # the user's A/B variant, on the A/B route

    def arg(self, name: str) -> str | None:
        """The query parameter, or None (MultiDict.get raises and catches an exception when it is absent)."""
        return self.args[name] if name in self.args else None

    def top_k(self) -> int:
        limit = self.svc.config.max_top_k
        raw = self.arg("top_k")
        if raw is None:
            return min(10, limit)
        try:
            value = int(raw)
        except ValueError:
            raise BadRequest(f"top_k must be an integer from 1 to {limit}; got {raw!r}") from None
        if not 1 <= value <= limit:
            raise BadRequest(f"top_k must be from 1 to {limit}; got {value}")
        return value

    def weight(self, name: str, default: float) -> float:
        raw = self.arg(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise BadRequest(f"{name} must be a number >= 0; got {raw!r}") from None
        if not math.isfinite(value) or value < 0:
            raise BadRequest(f"{name} must be a finite number >= 0; got {raw!r}")
        return value

    def id(self, name: str) -> str | None:
        return checked_id(name, self.arg(name) or "") or None

    def product(self, product_id: str | None) -> str | None:
        """The product asked about, if the catalog (as it is now) has it; else 404."""
        if product_id is not None and not self.live.knows(product_id):
            raise UnknownProductError(product_id)
        return product_id

    def filter(self) -> Filter:
        """category= and exclude=: comma-separated lists."""
        return Filter(
            frozenset(c.casefold() for c in self._values("category")), frozenset(self._values("exclude"))
        )

    def _values(self, name: str) -> list[str]:
        raw = self.arg(name)
        if not raw:
            return []
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if len(values) > MAX_FILTER_VALUES or any(len(v) > MAX_ID_LENGTH for v in values):
            raise BadRequest(
                f"{name} takes at most {MAX_FILTER_VALUES} comma-separated values "
                f"of at most {MAX_ID_LENGTH} characters each"
            )
        if id_control(raw):
            raise BadRequest(f"{name} holds a control character (such as NUL); none is allowed")
        return values

    def shelve(
        self,
        answer: Answer,
        product_id: str | None = None,
        user_id: str | None = None,
        textual: bool = False,
        new_products: bool = False,
    ) -> dict:
        """The answer with the catalog as it is now and the request's filters (see shelf.py)."""
        args = self.args
        if self.live.unchanged and "category" not in args and "exclude" not in args and "details" not in args:
            return _results(answer(self.top_k(), self.product(product_id)))  # nothing to apply
        request = Request(
            answer,
            self.top_k(),
            self.filter(),
            self.product(product_id),
            textual=textual,
            user_items=(lambda: self.model.items_of(user_id).tolist()) if user_id is not None else None,
            user_added=self.model.feedback.others.get(user_id, ()) if user_id is not None else (),
            new_products=new_products and user_id is not None,
            deep=self.model.settings.neighbours,
        )
        found = shelve(self.live, request)
        if self.arg("details") in ("1", "true"):  # what a page shows beside each title
            return {"results": [self._detailed(r) for r in found]}
        return _results(found)

    def _detailed(self, found: Recommendation) -> dict:
        product = self.live.product(found.product_id) or Product(found.product_id, found.title)
        return {
            "product_id": found.product_id,
            "title": found.title,
            "score": found.score,
            "category": product.category,
            "price": product.price,
            "img_url": product.img_url,
            "new": self.live.is_new(found.product_id),
        }


def cached(*params: str, experiment: bool = False) -> Callable:
    """Serve the view's JSON from Redis when the same path and `params` were answered before.

    The key is a digest of the route, the path, the listed query parameters as sent, and the
    model version, so no two requests that could differ share an entry. Only answers are stored,
    never errors. The stored JSON is sent as it is, with "source" and a new "recomm_id" put in
    front (`experiment`: the answer is an A/B variant's, and its id names the variant).
    """
    keyed = (*params, "category", "exclude", "details")  # every route's filters are in its key too

    def decorator(view: Callable[..., dict]) -> Callable[..., Response]:
        @functools.wraps(view)
        def wrapper(**view_args: str) -> Response:
            svc = services()
            model = g.model = svc.live.current()  # pinned: a reload never splits one request
            query = request.args
            for name, value in view_args.items():  # the path's id, checked as the query's are
                checked_id(name, value)
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


@api.get("/health")
def health() -> dict:
    svc, model = services(), current_model()
    return {
        "status": "ok",
        "model_version": model.version,
        "cache": svc.cache.ping(),
        "products": len(model.catalog),
        "users": model.history.n_users,
        "built": model.built,
        "feedback_store": svc.feedback.state,
        "ranker": {"trained": model.ranked is not None, "reason": model.ranker_reason},
        "reload": _reload_status(svc),
    }


def _reload_status(svc: Services) -> dict:
    """How the last rebuild went; why it failed (which may name files or hosts) for the admin only."""
    status = svc.reloader.status()
    if "error" in status and not _is_admin(svc.config):
        status = {k: v for k, v in status.items() if k != "error"}
        status["error_hidden"] = "send the admin token to see why"
    return status


@api.get("/recommend/content/<path:product_id>")
@cached("top_k")
def recommend_content(ask: Ask, product_id: str) -> dict:
    model = ask.model
    return ask.shelve(lambda n, product: model.similar(product, n), product_id, textual=True)


@api.get("/recommend/user/<path:user_id>")
@cached("top_k", "strategy")
def recommend_user(ask: Ask, user_id: str) -> dict:
    model = ask.model
    strategy = ask.arg("strategy") or model.user_strategy
    if strategy not in STRATEGIES:
        raise BadRequest(f"strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}")
    answer = lambda n, _: model.by_strategy(strategy, user_id, None, n)  # noqa: E731
    return ask.shelve(answer, user_id=user_id, new_products=strategy in NEW_PRODUCT_STRATEGIES)


@api.get("/recommend/hybrid")
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


@api.get("/recommend/ab")
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


@api.get("/ab/report")
def ab_report_view() -> Response:
    """The current experiment's report (behind the admin token when one is set)."""
    svc = services()
    _require_token_if_set(svc.config)
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


@api.get("/products")
def search_products() -> dict:
    """Products whose title holds every word of q, best sellers first."""
    q = request.args.get("q", "")
    if len(q) > MAX_QUERY_LENGTH:
        raise BadRequest(f"q is longer than {MAX_QUERY_LENGTH} characters")
    if id_control(q):
        raise BadRequest("q holds a control character (such as NUL); none is allowed")
    if len(set(q.casefold().split())) > MAX_QUERY_WORDS:
        raise BadRequest(f"q has more than {MAX_QUERY_WORDS} distinct words")
    raw = request.args.get("limit", "20")
    # ASCII digits only: str.isdigit() also takes '²', which int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_SEARCH_RESULTS:
        raise BadRequest(f"limit must be an integer from 1 to {MAX_SEARCH_RESULTS}; got {raw!r}")
    live = services().live_catalog(current_model())
    found = [live.product(pid) for pid in live.search(q, int(raw))]
    return {"results": [_listed(p) for p in found if p is not None]}


@api.get("/users/<path:user_id>")
def user_history(user_id: str) -> dict:
    """The user's latest events (from the log the model was built on, and stored since), newest
    first; behind the admin token when one is set (a shopper's history is theirs)."""
    svc = services()
    _require_token_if_set(svc.config)
    model = current_model()
    user_id = _path_id(user_id, "user_id")
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


@api.put("/products/<path:product_id>")
def put_product(product_id: str) -> tuple[dict, int]:
    """Add or replace a product (admin): stored, then served by every worker within a second."""
    svc = services()
    _require_admin(svc.config)
    product_id = _path_id(product_id)
    try:
        product = parse_product(product_id, request.get_json(force=True, silent=True))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    live = svc.live_catalog(current_model())
    created = not live.knows(product_id)
    svc.catalog.add(product)
    svc.catalog_news.bump()
    return {
        "status": "created" if created else "replaced",
        "product": _product(product),
    }, 201 if created else 200


@api.delete("/products/<path:product_id>")
def delete_product(product_id: str) -> dict:
    """Withdraw a product (admin): no answer contains it from the next second on."""
    svc = services()
    _require_admin(svc.config)
    product_id = _path_id(product_id)
    live = svc.live_catalog(current_model())
    current = live.product(product_id)
    if current is None:
        raise UnknownProductError(product_id)
    record = live.records.get(product_id)  # else its fields stay the CSV's
    svc.catalog.add(replace(record, available=False) if record else Product(product_id, "", available=False))
    svc.catalog_news.bump()
    return {"status": "withdrawn", "product": _product(replace(current, available=False))}


@api.get("/products/<path:product_id>")
def get_product(product_id: str) -> dict:
    """A product as it is served now."""
    product_id = _path_id(product_id)
    product = services().live_catalog(current_model()).product(product_id)
    if product is None:
        raise UnknownProductError(product_id)
    return _product(product)


@api.post("/feedback")
def feedback() -> tuple[dict, int]:
    svc = services()
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object: {"user_id", "product_id", "action", "ts"?}')
    user_id = _id_field(body, "user_id")
    product_id = _id_field(body, "product_id")
    action = body.get("action")
    if action not in ACTIONS:
        raise BadRequest(f"action must be one of {', '.join(ACTIONS)}; got {action!r}")
    if not svc.live_catalog(current_model()).knows(product_id):
        raise UnknownProductError(product_id)
    event_id = (
        _id_field(body, "event_id", limit=MAX_EVENT_ID_LENGTH) if body.get("event_id") is not None else None
    )
    recomm = (
        _id_field(body, "recomm_id", limit=MAX_EVENT_ID_LENGTH) if body.get("recomm_id") is not None else None
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    ts = _timestamp(body["ts"]) if body.get("ts") is not None else now
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


def describe(config: Config) -> dict:
    """The OpenAPI description of this app with this config and these limits."""
    return api_docs.spec(
        config, id_length=MAX_ID_LENGTH, event_id_length=MAX_EVENT_ID_LENGTH, body_bytes=MAX_BODY_BYTES
    )


@api.get("/openapi.json")
def openapi_document() -> dict:
    return describe(services().config)


@api.get("/metrics")
def metrics() -> Response:
    body, content_type = monitoring.exposition()
    return current_app.response_class(body, content_type=content_type)


@api.get("/docs")
def docs() -> Response:
    page = current_app.response_class(api_docs.page(describe(services().config)), mimetype="text/html")
    return _guarded(page, api_docs.PAGE_POLICY)


@api.get("/console")
@api.get("/console/<path:page>")
def console_page(page: str = "") -> Response:
    """The console (one page; its script shows what the address asks for)."""
    return _guarded(send_from_directory(CONSOLE, "index.html", max_age=0), CONSOLE_POLICY)


def _guarded(page: Response, policy: str) -> Response:
    """An HTML page that loads only what `policy` allows and that no other site may frame."""
    page.headers["Content-Security-Policy"] = policy
    page.headers["X-Frame-Options"] = "DENY"
    page.headers["X-Content-Type-Options"] = "nosniff"
    page.headers["Referrer-Policy"] = "same-origin"
    return page


@api.get("/console/static/<path:name>")
def console_file(name: str) -> Response:
    return send_from_directory(CONSOLE, name, max_age=300)


@api.post("/admin/reload")
def admin_reload() -> tuple[dict, int]:
    """Rebuild from the CSVs and all stored feedback in the background; every worker then switches."""
    svc = services()
    _require_admin(svc.config)
    started = svc.reloader.start(lambda: rebuild(svc.config, svc.feedback))
    state = "started" if started else "already running"
    return {"status": state, "model_version": current_model().version, "reload": svc.reloader.status()}, 202


@api.get("/admin/reload")
def admin_reload_status() -> dict:
    svc = services()
    _require_admin(svc.config)
    return {"model_version": current_model().version, "reload": svc.reloader.status()}


def rebuild(config: Config, feedback: FeedbackStore) -> Recommender:
    """A model of the CSVs as they are now, plus every usable stored feedback event."""
    stored = feedback.snapshot()
    model = Recommender.from_csv(
        config.products_csv,
        config.interactions_csv,
        model_settings(config),
        feedback=stored.events,
        feedback_last_id=stored.last_id,
        catalog_changes=CatalogStore(feedback.engine).after(0),
    )
    model.built["feedback_skipped"] = stored.skipped  # shown by /health
    return model


def _require_token_if_set(config: Config) -> None:
    """The admin token, for a read route that is open only where none is set (a local demo)."""
    g.no_store = True
    if config.admin_token:
        _require_admin(config)


def _require_admin(config: Config) -> None:
    """404 when no ADMIN_TOKEN is set (the admin routes do not exist then); 401 for a wrong token.
    An admin answer is never kept by a cache on the way (Cache-Control: no-store)."""
    g.no_store = True
    if not config.admin_token:
        raise NotFound()
    if not _is_admin(config):
        raise Unauthorized("send the admin token: Authorization: Bearer <ADMIN_TOKEN>")


def _is_admin(config: Config) -> bool:
    """Whether the request carries the admin token (one is set)."""
    return config.admin_token is not None and _bearer(config.admin_token)


def _bearer(token: str) -> bool:
    """Whether the request's Authorization header is `Bearer <token>` (compared in constant time)."""
    sent = request.headers.get("Authorization", "")
    return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())


# --- parameters ----------------------------------------------------------------------------------


def checked_id(name: str, raw: str, limit: int = MAX_ID_LENGTH) -> str:
    """An id as sent, stripped; 400 naming `name` when it is longer than `limit` or holds a
    control character (which no store column can keep faithfully)."""
    value = raw.strip()
    if len(value) > limit:
        raise BadRequest(f"{name} is longer than {limit} characters")
    if id_control(value):
        raise BadRequest(f"{name} holds a control character (such as NUL); an id may hold none")
    return value


def _path_id(product_id: str, name: str = "product_id") -> str:
    value = checked_id(name, product_id)
    if not value:
        raise BadRequest(f"a {name} is 1 to {MAX_ID_LENGTH} characters")
    return value


def _listed(product: Product) -> dict:
    fields = ("product_id", "title", "category", "price", "img_url")
    return {f: getattr(product, f) for f in fields}


def _product(product: Product) -> dict:
    return {"product_id": product.product_id, **{f: getattr(product, f) for f in FIELDS}}


def _id_field(body: dict, name: str, limit: int = MAX_ID_LENGTH) -> str:
    value = body.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{name} is required: a non-empty string")
    return checked_id(name, value, limit)


def _timestamp(raw: object) -> datetime:
    """An ISO 8601 time as naive UTC; a time without an offset is taken as UTC."""
    if not isinstance(raw, str):
        raise BadRequest(f"ts must be an ISO 8601 string such as 2024-03-01T14:05:00Z; got {raw!r}")
    try:
        parsed = datetime.fromisoformat(raw.strip())
        if parsed.tzinfo is not None:  # an offset at the calendar's edge overflows here
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise BadRequest(f"ts must be an ISO 8601 time such as 2024-03-01T14:05:00Z; got {raw!r}") from None
    if parsed < EARLIEST_TS:
        raise BadRequest(f"ts must be 1970-01-01 or later; got {raw!r}")
    return parsed


def _results(recommendations: list[Recommendation]) -> dict:
    # orjson writes each Recommendation as {"product_id", "title", "score"}.
    return {"results": recommendations}


# --- errors --------------------------------------------------------------------------------------


def _no_store(response: Response) -> Response:
    if g.get("no_store"):
        response.headers["Cache-Control"] = "no-store"
    return response


def register_error_handlers(app: Flask) -> None:
    """Every error leaves as {"error": {"code", "message"}}; a 500 is logged, never shown."""

    @app.errorhandler(UnknownProductError)
    def unknown_product(exc: UnknownProductError):  # type: ignore[no-untyped-def]
        return _error(NotFound(str(exc)))

    @app.errorhandler(FeedbackUnavailableError)
    def store_down(exc: FeedbackUnavailableError):  # type: ignore[no-untyped-def]
        response = _error(ServiceUnavailable(str(exc)))
        response.headers["Retry-After"] = str(FEEDBACK_RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        return _error(exc)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error(InternalServerError("internal error; it has been logged"))


# Messages for errors Flask raises itself (unknown route, wrong method, body too large).
DEFAULT_MESSAGES = {
    404: "no such route; the routes are listed at /docs",
    405: "method not allowed on this route",
    413: f"the request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB",
}


def _error(exc: HTTPException):  # type: ignore[no-untyped-def]
    code = exc.code or 500
    message = exc.description
    if message == type(exc).description:  # raised without a message of ours
        message = DEFAULT_MESSAGES.get(code, message)
    response = current_app.json.response({"error": {"code": code, "message": message}})
    response.status_code = code
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    if isinstance(exc, Unauthorized):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _start() -> Flask:
    """The app from the environment; a bad setting or input file stops with its message, not a traceback."""
    try:
        return create_app(Config.from_env())
    except (ConfigError, DataError) as exc:
        raise SystemExit(f"cannot start: {exc}") from None


def main() -> None:
    _start().run(host="0.0.0.0", port=Config.from_env().port)


def __getattr__(name: str) -> Flask:
    """`app`, built on first use: what `gunicorn app:app` imports, without costing importers a build."""
    if name != "app":
        raise AttributeError(name)
    globals()["app"] = built = _start()
    return built


if __name__ == "__main__":
    main()
