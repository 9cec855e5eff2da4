"""What the routes use, built once by the factory and kept in app.extensions["recommender"]."""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g

from config import Config
from recommender.build import model_settings, store_inputs
from recommender.experiments.ab_testing import ABRouter
from recommender.serving.artifacts import load_or_build
from recommender.serving.build_lock import BuildLock
from recommender.serving.cache import Cache, Memory, connect
from recommender.serving.live_catalog import LiveCatalog
from recommender.serving.reload import LiveModel, Reloader
from recommender.serving.service import Recommender
from recommender.serving.signal import ChangeSignal
from recommender.storage.catalog_changes import CatalogStore
from recommender.storage.exposures import ExposureLog
from recommender.storage.feedback import FeedbackStore
from web.event_limits import EventLimits


@dataclass
class Services:
    """The served model and the stores, cache and router beside it."""

    config: Config
    live: LiveModel
    reloader: Reloader
    cache: Cache  # Redis, shared by workers and replicas
    memory: Memory  # this worker's latest answers, in front of Redis (web/caching.py)
    router: ABRouter
    feedback: FeedbackStore
    exposures: ExposureLog | None  # None: AB_EXPOSURES=false
    experiment: str  # digest of the A/B set-up: names the experiment and scopes cache keys
    news: ChangeSignal  # bumped after each stored event: other workers then read the store
    catalog: CatalogStore
    catalog_news: ChangeSignal  # bumped after each stored catalog change
    event_limits: EventLimits  # on POST /feedback
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


def build_services(config: Config, redis_client: Any = None) -> Services:
    """The model (loaded from artifacts, else built), the stores, the cache and the router."""
    model = load_or_build(store_inputs(config), model_settings(config), config.artifacts_dir)
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
        cache=Cache(client, config.cache_ttl_seconds, prefix=config.cache_key_prefix),
        memory=Memory(config.cache_local_entries, config.cache_ttl_seconds),
        router=router,
        feedback=feedback,
        exposures=ExposureLog(feedback.engine) if config.ab_exposures else None,
        experiment=hashlib.sha256(experiment).hexdigest()[:8],
        news=ChangeSignal(Path(config.artifacts_dir) / "FEEDBACK_SIGNAL"),
        catalog=CatalogStore(feedback.engine),
        catalog_news=ChangeSignal(Path(config.artifacts_dir) / "CATALOG_SIGNAL"),
        event_limits=EventLimits(config, shared=client is not None and redis_client is None),
    )
    built.sync_feedback(model)
    return built


def services() -> Services:
    return services_of(current_app)


def services_of(app: Flask) -> Services:
    return app.extensions["recommender"]


def current_model() -> Recommender:
    """The model that answers this request: chosen once per request, so a reload never splits one."""
    if "model" not in g:
        g.model = services().live.current()
    return g.model
