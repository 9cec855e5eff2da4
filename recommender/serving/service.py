"""The one facade the routes, the A/B router and the evaluation use: what is evaluated is what is served."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from recommender.data.activity import hourly
from recommender.data.data_loader import Catalog, load_catalog, load_interactions
from recommender.data.history import UserHistory
from recommender.memory import release_freed
from recommender.models.hybrid import Scored
from recommender.models.neighbours import UserLists
from recommender.serving.fitting import ModelSettings, fit_models, history_of, model_version, ranker_log_of
from recommender.serving.model import FittedModel, Recommendation
from recommender.serving.strategies import (
    STRATEGY_CLASSES,
    Collaborative,
    Content,
    Hybrid,
    Ranked,
    Strategy,
)
from recommender.storage.catalog_changes import Product, fold
from recommender.storage.inputs import CsvInputs, StoreInputs

log = logging.getLogger(__name__)

# The ways of answering for a user; each is one variant an A/B experiment may use.
STRATEGIES = tuple(cls.name for cls in STRATEGY_CLASSES)


class Recommender(FittedModel):
    """Fitted models over one catalog and one interaction log, answering by product and user id."""

    def __init__(self, *args: Any, user_hybrid: UserLists | None = None, **kwargs: Any) -> None:
        """The fitted parts (see FittedModel); each user's hybrid answer without a product at the
        default weights is blended here unless given (a model loaded from artifacts has it), and
        with it each user's text-profile list where the build did not keep those (Hybrid.lists())."""
        super().__init__(*args, **kwargs)
        self.strategies: dict[str, Strategy] = {cls.name: cls(self) for cls in STRATEGY_CLASSES}
        self._content = cast(Content, self.strategies["content"])
        self._collaborative_strategy = cast(Collaborative, self.strategies["collaborative"])
        self._hybrid = cast(Hybrid, self.strategies["hybrid"])
        self._ranked = cast(Ranked, self.strategies["ranked"])
        if user_hybrid is None:
            self.user_hybrid, self.user_text = self._hybrid.lists()
        else:
            self.user_hybrid = user_hybrid

    @classmethod
    def fit(
        cls,
        catalog: Catalog,
        interactions: pd.DataFrame,
        settings: ModelSettings,
        version: str = "unversioned",
    ) -> Recommender:
        """Fit every model on a catalog and its interaction log (the loader's frame)."""
        history = history_of(interactions, len(catalog), settings)
        return cls._fit(catalog, history, ranker_log_of(interactions, history, settings), settings, version)

    @classmethod
    def _fit(
        cls,
        catalog: Catalog,
        history: UserHistory,
        ranker_log: pd.DataFrame | None,
        settings: ModelSettings,
        version: str,
    ) -> Recommender:
        """Fit every model on the users' histories; the ranker trains on `ranker_log` (the
        loader's frame), which is None when there is no ranker to train (ranker_log_of())."""
        fitted = fit_models(catalog, history, ranker_log, settings)
        return cls(catalog, history, settings, *fitted.parts(), version=version, text=fitted.text)

    @classmethod
    def from_csv(
        cls, products_csv: str | Path, interactions_csv: str | Path, *args: Any, **kwargs: Any
    ) -> Recommender:
        """from_inputs() on two CSV files."""
        return cls.from_inputs(CsvInputs(Path(products_csv), Path(interactions_csv)), *args, **kwargs)

    @classmethod
    def from_inputs(
        cls,
        inputs: StoreInputs,
        settings: ModelSettings | None = None,
        version: str | None = None,
        feedback: pd.DataFrame | None = None,
        feedback_last_id: int = 0,
        catalog_changes: list[tuple[int, Product]] | None = None,
    ) -> Recommender:
        """Load the store (the database, or the CSV files: storage/inputs.py) and fit every model;
        raises DataError on a bad file. /health shows where it was read from (`built.from`).

        `version` is model_version() of the same inputs, when the caller computed it already.
        `feedback` (user_id, product_id, interaction_type, ts) joins the interactions: the stored
        feedback up to event `feedback_last_id`; later events apply on top as they arrive.
        `catalog_changes` (from the catalog API, in order) are folded into the catalog.
        """
        settings = settings or ModelSettings()
        catalog_last_id = max((i for i, _ in catalog_changes or []), default=0)
        version = version or model_version(inputs, settings, feedback_last_id, catalog_last_id)
        started = time.perf_counter()
        with inputs.files() as (products_csv, interactions_csv):
            catalog = fold(load_catalog(products_csv), catalog_changes or [])
            interactions = load_interactions(interactions_csv, catalog, settings.interaction_weights.keys())
        if feedback is not None and len(feedback):
            known = feedback[feedback["product_id"].isin(catalog.index.keys())]
            extra = known.assign(item=known["product_id"].map(catalog.index).astype(np.int32))
            columns = ["user_id", "item", "interaction_type", "ts"]
            interactions = pd.concat([interactions, extra[columns]], ignore_index=True)
        release_freed()  # what reading the file left behind
        history = history_of(interactions, len(catalog), settings)
        n_interactions, ranker_log = len(interactions), ranker_log_of(interactions, history, settings)
        activity = hourly(interactions)
        del interactions  # a log of tens of millions of rows is let go here unless the ranker needs it
        release_freed()
        model = cls._fit(catalog, history, ranker_log, settings, version)
        model.feedback.last_id = model.feedback_last_id = feedback_last_id
        model.catalog_last_id = catalog_last_id
        model.built = {
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(time.perf_counter() - started, 1),
            "interactions": n_interactions,
            "from": inputs.kind,
            "activity": activity,  # the console's overview; /health leaves it out
        }
        log.info(
            "model %s: %d products, %d users, %d interactions, built in %.1f s",
            model.version,
            len(catalog),
            history.n_users,
            n_interactions,
            time.perf_counter() - started,
        )
        return model

    # --- the answers: each strategy's (strategies.py) ----------------------------------------
    # Each as recommendations, and as rows of the catalog and their scores (`*_rows`: what the
    # web layer filters before it names the products, recommendations() then names them).

    def by_strategy(
        self, strategy: str, user_id: str | None, product_id: str | None, k: int
    ) -> list[Recommendation]:
        """The answer of one strategy (each of STRATEGIES, the variants of an A/B experiment)."""
        return self.recommendations(self.rows_by_strategy(strategy, user_id, product_id, k))

    def rows_by_strategy(self, strategy: str, user_id: str | None, product_id: str | None, k: int) -> Scored:
        found = self.strategies.get(strategy)
        if found is None:
            raise ValueError(f"unknown strategy {strategy!r}")
        return found.rows(user_id, product_id, k)

    @property
    def user_strategy(self) -> str:
        """What answers for a user by default: the ranker once one is trained, else collaborative."""
        return "ranked" if self.ranked is not None else "collaborative"

    def similar(self, product_id: str, k: int) -> list[Recommendation]:
        """Products most like product_id by their text, never product_id itself."""
        return self.recommendations(self.similar_rows(product_id, k))

    def similar_rows(self, product_id: str, k: int) -> Scored:
        return self._content.similar(product_id, k)

    def for_user(self, user_id: str, k: int) -> list[Recommendation]:
        """The collaborative strategy without a product."""
        return self.recommendations(self._collaborative_strategy.for_user(user_id, k))

    def content_for(self, user_id: str | None, product_id: str | None, k: int) -> list[Recommendation]:
        return self._content.recommend(user_id, product_id, k)

    def hybrid(
        self,
        user_id: str | None,
        product_id: str | None,
        k: int,
        w_content: float | None = None,
        w_cf: float | None = None,
    ) -> list[Recommendation]:
        """The hybrid strategy, at other weights than the settings' when given."""
        return self._hybrid.recommend(user_id, product_id, k, w_content=w_content, w_cf=w_cf)

    def hybrid_rows(
        self, user_id: str | None, product_id: str | None, k: int, **weights: float | None
    ) -> Scored:
        return self._hybrid.rows(user_id, product_id, k, **weights)

    def ranked_for(self, user_id: str | None, product_id: str | None, k: int) -> list[Recommendation]:
        return self._ranked.recommend(user_id, product_id, k)

    def ranked_rows(self, user_id: str | None, product_id: str | None, k: int) -> Scored:
        return self._ranked.rows(user_id, product_id, k)

    def is_latest(self, user_id: str | None, product_id: str | None) -> bool:
        """Whether product_id is none, or the user's latest item (what their ranked list starts from)."""
        return self._ranked.is_latest(user_id, product_id)
