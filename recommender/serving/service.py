"""The one facade the routes, the A/B router and the evaluation use: what is evaluated is what is served."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from recommender.data.data_loader import Catalog, load_catalog, load_interactions
from recommender.data.history import UserHistory
from recommender.memory import release_freed
from recommender.models.collaborative import ItemItemModel
from recommender.models.content_based import TextSpace
from recommender.models.hybrid import Scored
from recommender.models.merging import gather, top_n
from recommender.models.neighbours import Neighbours, UserLists
from recommender.models.popularity import Popularity
from recommender.ranking.ranked import RankedModel
from recommender.serving.fitting import ModelSettings, fit_models, history_of, model_version, ranker_log_of
from recommender.serving.overlay import FeedbackOverlay
from recommender.serving.strategies import (
    STRATEGY_CLASSES,
    Collaborative,
    Content,
    Hybrid,
    Ranked,
    Strategy,
    with_items,
)
from recommender.storage.catalog_changes import Product, fold

log = logging.getLogger(__name__)

# The ways of answering for a user; each is one variant an A/B experiment may use.
STRATEGIES = tuple(cls.name for cls in STRATEGY_CLASSES)


@dataclass(slots=True)  # not frozen: a frozen dataclass takes three times as long to create
class Recommendation:
    product_id: str
    title: str
    score: float


class Recommender:
    """Fitted models over one catalog and one interaction log, answering by product and user id."""

    def __init__(
        self,
        catalog: Catalog,
        history: UserHistory,
        settings: ModelSettings,
        similar_items: Neighbours,
        collaborative: ItemItemModel,
        popularity: Popularity,
        user_cf: UserLists,
        user_text: UserLists,
        ranked: RankedModel | None = None,
        ranker_reason: str = "not trained",
        user_hybrid: UserLists | None = None,
        version: str = "unversioned",
        text: TextSpace | None = None,
    ) -> None:
        self.catalog = catalog
        self.history = history
        self.settings = settings
        self.similar_items = similar_items
        self.collaborative = collaborative
        self.popularity = popularity
        self.user_cf = user_cf  # each user's collaborative top list, precomputed
        self.user_text = user_text  # each user's text-profile top list, precomputed
        self.ranked = ranked  # candidates from every signal, ordered by the learned ranker, if trained
        self.ranker_reason = ranker_reason  # "trained", or why the hybrid answers for it
        self.unseen = popularity.scores == 0  # products nobody has interacted with yet
        self.any_unseen = bool(self.unseen.any())
        self.strategies: dict[str, Strategy] = {cls.name: cls(self) for cls in STRATEGY_CLASSES}
        self._content = cast(Content, self.strategies["content"])
        self._collaborative_strategy = cast(Collaborative, self.strategies["collaborative"])
        self._hybrid = cast(Hybrid, self.strategies["hybrid"])
        self._ranked = cast(Ranked, self.strategies["ranked"])
        # Each user's hybrid answer without a product, at the default weights (see hybrid()).
        self.user_hybrid = self._hybrid.lists() if user_hybrid is None else user_hybrid
        self.version = version
        self.text = text  # the products' text vectors, and what embeds a new product's text
        # Feedback stored since the build; whoever holds the store keeps it current (apply()).
        self.feedback = FeedbackOverlay(catalog.index, settings.interaction_weights)
        self.feedback_last_id = 0  # stored feedback up to this event is in the history already
        self.catalog_last_id = 0  # catalog changes up to this one are in the catalog already
        self.built: dict = {}  # when, in how long, from how many interactions (from_csv, artifacts)
        # Python lists: indexing them with Python ints is the cheapest way to a response's strings.
        self._ids: list[str] = catalog.product_ids.tolist()
        self._titles: list[str] = catalog.titles.tolist()

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
        cls,
        products_csv: str | Path,
        interactions_csv: str | Path,
        settings: ModelSettings | None = None,
        version: str | None = None,
        feedback: pd.DataFrame | None = None,
        feedback_last_id: int = 0,
        catalog_changes: list[tuple[int, Product]] | None = None,
    ) -> Recommender:
        """Load both files and fit every model; raises DataError on a bad file.

        `version` is model_version() of the same inputs, when the caller computed it already.
        `feedback` (user_id, product_id, interaction_type, ts) joins the interactions: the stored
        feedback up to event `feedback_last_id`; later events apply on top as they arrive.
        `catalog_changes` (from the catalog API, in order) are folded into the catalog.
        """
        settings = settings or ModelSettings()
        catalog_last_id = max((i for i, _ in catalog_changes or []), default=0)
        version = version or model_version(
            products_csv, interactions_csv, settings, feedback_last_id, catalog_last_id
        )
        started = time.perf_counter()
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
        del interactions  # a log of tens of millions of rows is let go here unless the ranker needs it
        release_freed()
        model = cls._fit(catalog, history, ranker_log, settings, version)
        model.feedback.last_id = model.feedback_last_id = feedback_last_id
        model.catalog_last_id = catalog_last_id
        model.built = {
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(time.perf_counter() - started, 1),
            "interactions": n_interactions,
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

    def by_strategy(
        self, strategy: str, user_id: str | None, product_id: str | None, k: int
    ) -> list[Recommendation]:
        """The answer of one strategy (each of STRATEGIES, the variants of an A/B experiment)."""
        found = self.strategies.get(strategy)
        if found is None:
            raise ValueError(f"unknown strategy {strategy!r}")
        return found.recommend(user_id, product_id, k)

    @property
    def user_strategy(self) -> str:
        """What answers for a user by default: the ranker once one is trained, else collaborative."""
        return "ranked" if self.ranked is not None else "collaborative"

    def similar(self, product_id: str, k: int) -> list[Recommendation]:
        """Products most like product_id by their text, never product_id itself."""
        return self._content.similar(product_id, k)

    def for_user(self, user_id: str, k: int) -> list[Recommendation]:
        """The collaborative strategy without a product."""
        return self._collaborative_strategy.for_user(user_id, k)

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
        return self._hybrid.recommend(user_id, product_id, k, w_content, w_cf)

    def ranked_for(self, user_id: str | None, product_id: str | None, k: int) -> list[Recommendation]:
        return self._ranked.recommend(user_id, product_id, k)

    def is_latest(self, user_id: str | None, product_id: str | None) -> bool:
        """Whether product_id is none, or the user's latest item (what their ranked list starts from)."""
        return self._ranked.is_latest(user_id, product_id)

    # --- what the strategies share -------------------------------------------------------------

    def items_of(self, user_id: str | None) -> NDArray[np.int32]:
        """The rows of the user's items: the history the model was built on, plus feedback since."""
        return self.items_and_weights(user_id)[0]

    def anchor(self, user_id: str | None, product_id: str | None) -> int | None:
        """The product the content part starts from: the one asked about, else the user's latest."""
        if product_id is not None:
            return self.catalog.position(product_id)
        latest = self.feedback.latest.get(user_id) if user_id is not None else None
        return latest if latest is not None else self.history.last_item_of(user_id)

    def items_and_weights(self, user_id: str | None) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """The user's items and strengths: the history the model was built on, plus feedback since."""
        items, weights = self.history.items_of(user_id)
        return self.feedback.extend(user_id, items, weights)

    def collaborative_list(self, user_id: str, n: int) -> Scored:
        """The user's n best items by the collaborative model."""
        return self._user_list(self.user_cf, self.collaborative.neighbours, user_id, n)

    def text_profile(self, user_id: str, n: int) -> Scored:
        """The user's n best items by the text of their items."""
        return self._user_list(self.user_text, self.similar_items, user_id, n)

    def _user_list(self, lists: UserLists, table: Neighbours, user_id: str, n: int) -> Scored:
        """The user's n best items by one model: precomputed at build, else summed now from `table`."""
        found = self.precomputed(lists, user_id, n)
        if found is not None:
            return found
        items, weights = self.items_and_weights(user_id)
        return top_n(*gather(table, items, weights), n, exclude=items)

    def precomputed(self, lists: UserLists, user_id: str, n: int) -> Scored | None:
        """The user's list from the build, if it holds n items and no feedback came since."""
        row = self.history.user_index.get(user_id)
        if row is None or user_id in self.feedback.items:
            return None
        return lists.of(row, n)

    def pool(self, k: int) -> int:
        """How many candidates a part brings to a blend: more than k, so the blend has a choice."""
        return max(4 * k, self.settings.neighbours)

    def complete(self, scored: Scored, k: int, exclude: NDArray[np.integer]) -> list[Recommendation]:
        """The first k of a ranked list (that leaves out `exclude`), filled up with best sellers at 0."""
        items, scores = scored[0][:k], scored[1][:k]
        if len(items) < k:
            extra, _ = self.popularity.recommend(k - len(items), with_items(exclude, *items))
            items = np.concatenate([items, extra])
            scores = np.concatenate([scores, np.zeros(len(extra), np.float32)])
        ids, titles = self._ids, self._titles
        return [
            Recommendation(ids[i], titles[i], s)
            for i, s in zip(items.tolist(), np.round(scores.astype(np.float64), 6).tolist(), strict=True)
        ]
