"""The one facade the routes, the A/B router and the evaluation use: what is evaluated is what is served."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from recommender.data.data_loader import Catalog, load_catalog, load_interactions
from recommender.data.history import HistoryConfig, UserHistory
from recommender.data.recent import RecentEvents
from recommender.errors import DataError
from recommender.memory import release_freed
from recommender.models.collaborative import CollaborativeConfig, ItemItemModel
from recommender.models.content_based import ContentConfig, ContentModel, TextSpace
from recommender.models.hybrid import Scored, blend, blend_rows
from recommender.models.neighbours import (
    CHUNK_ROWS,
    Neighbours,
    UserLists,
    empty_lists,
    gather,
    list_chunks,
    top_n,
    user_lists,
)
from recommender.models.popularity import Popularity
from recommender.ranking.config import RankerConfig
from recommender.ranking.features import ProductFacts
from recommender.ranking.ranked import RankedModel, fit_ranked
from recommender.serving.overlay import FeedbackOverlay
from recommender.storage.catalog_changes import Product, fold

log = logging.getLogger(__name__)

# How a built model is laid out (its arrays and what they hold). It is part of every model version,
# so a release that changes it builds afresh instead of loading a folder an older release saved.
MODEL_FORMAT = 8

# The ways of answering for a user; each is one variant an A/B experiment may use.
STRATEGIES = ("content", "collaborative", "hybrid", "popularity", "ranked")


@dataclass(slots=True)  # not frozen: a frozen dataclass takes three times as long to create
class Recommendation:
    product_id: str
    title: str
    score: float


@dataclass(frozen=True)
class ModelSettings:
    """Everything besides the input files that changes what the models answer."""

    interaction_weights: Mapping[str, float] = field(default_factory=lambda: dict(HistoryConfig().weights))
    recency_days: float = HistoryConfig.recency_days
    recency_floor: float = HistoryConfig.recency_floor
    neighbours: int = 100
    regularization: float = CollaborativeConfig.regularization
    w_content: float = 0.1
    w_cf: float = 0.9
    new_item_weight: float = 0.15
    ranker: bool = True  # train the ranker (else the hybrid answers for the ranked strategy)
    ranker_max_users: int = RankerConfig.max_users
    ranker_seed: int = RankerConfig.seed  # the ranker's sampling and boosting (evaluations vary it)
    # More users than this: each user's text-profile list is summed at request time rather than
    # kept from the build (the lists take 0.8 KB a user), unless a ranker trains on them.
    text_lists_max_users: int = 1_000_000

    @property
    def history(self) -> HistoryConfig:
        return HistoryConfig(dict(self.interaction_weights), self.recency_days, self.recency_floor)


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
        self._unseen = popularity.scores == 0  # products nobody has interacted with yet
        self._any_unseen = bool(self._unseen.any())
        # Each user's hybrid answer without a product, at the default weights (see hybrid()).
        self.user_hybrid = self._hybrid_lists() if user_hybrid is None else user_hybrid
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
        history = _history(interactions, len(catalog), settings)
        return cls._fit(catalog, history, _ranker_log(interactions, history, settings), settings, version)

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
        loader's frame), which is None when there is no ranker to train (_ranker_log())."""
        started = time.perf_counter()
        content = ContentModel(ContentConfig(neighbours=settings.neighbours)).fit(catalog)
        similar_items = content.neighbours
        log.info("text neighbours of %d products in %.1f s", len(catalog), time.perf_counter() - started)
        release_freed()
        started = time.perf_counter()
        collaborative = _collaborative(settings, history)
        log.info(
            "collaborative model over %d users in %.1f s", history.n_users, time.perf_counter() - started
        )
        release_freed()
        popularity = Popularity().fit(history)
        started = time.perf_counter()
        user_cf = user_lists(history.matrix, collaborative.neighbours, settings.neighbours)
        keeps_text = history.n_users <= settings.text_lists_max_users or ranker_log is not None
        if keeps_text:
            user_text = user_lists(history.matrix, similar_items, settings.neighbours)
        else:
            user_text = empty_lists(history.n_users)
            limit = settings.text_lists_max_users
            log.info("text-profile lists are summed at request time: more than %d users", limit)
        log.info("lists of %d users in %.1f s", history.n_users, time.perf_counter() - started)
        release_freed()
        ranked, reason = None, "turned off (RANKER=false)"
        if settings.ranker:
            ranked, reason = fit_ranked(
                ranker_log,
                history,
                similar_items,
                content.vectors,
                collaborative.neighbours,
                lambda h: _collaborative(settings, h).neighbours,
                ProductFacts.of(catalog.categories, catalog.prices),
                settings.history,
                RankerConfig(max_users=settings.ranker_max_users, seed=settings.ranker_seed),
                built={"collaborative": user_cf, "text": user_text},
            )
            if ranked is None:
                log.info("no ranker: %s; the hybrid answers for the ranked strategy", reason)
        parts = (similar_items, collaborative, popularity, user_cf, user_text, ranked, reason)
        # __init__ blends user_hybrid
        return cls(catalog, history, settings, *parts, version=version, text=content.text)

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
        history = _history(interactions, len(catalog), settings)
        n_interactions, ranker_log = len(interactions), _ranker_log(interactions, history, settings)
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

    # --- the answers -------------------------------------------------------------------------

    def similar(self, product_id: str, k: int) -> list[Recommendation]:
        """Products most like product_id by their text, never product_id itself."""
        item = self.catalog.position(product_id)
        items, scores = self.similar_items.of(item)
        return self._complete((items[:k], scores[:k]), k, np.array([item], np.int32))

    def for_user(self, user_id: str, k: int) -> list[Recommendation]:
        """Items for user_id that they do not have yet; best sellers for an unknown user."""
        items, _ = self._items_of(user_id)
        if len(items) == 0:
            return self._complete(self.popularity.recommend(k), k, items)
        return self._complete(self._collaborative(user_id, k), k, items)

    def hybrid(
        self,
        user_id: str | None,
        product_id: str | None,
        k: int,
        w_content: float | None = None,
        w_cf: float | None = None,
    ) -> list[Recommendation]:
        """Blend of text similarity and the collaborative model, each scaled to [0, 1] first.

        The text part is split evenly between items like the context product (product_id, else
        the user's latest item) and items like the user's whole history (recency-weighted).
        Products nobody has interacted with yet are invisible to the collaborative part, so they
        count at new_item_weight x w_cf when that is more than w_content: new products reach users.
        Without a known user, the context product's similar items are ranked by popularity instead.
        """
        w_content = self.settings.w_content if w_content is None else w_content
        w_cf = self.settings.w_cf if w_cf is None else w_cf
        items, _ = self._items_of(user_id)
        defaults = (w_content, w_cf) == (self.settings.w_content, self.settings.w_cf)
        if user_id is not None and product_id is None and len(items) and defaults:
            found = self._precomputed(self.user_hybrid, user_id, k)
            if found is not None:
                return self._complete(found, k, items)
        anchor = self._anchor(user_id, product_id)
        text: list[Scored] = []
        if anchor is not None:
            text.append(self.similar_items.of(anchor))
        if len(items):
            text.append(self._text_profile(user_id, self._pool(k)))
        parts = [(self._text_weight(part[0], w_content / len(text), w_cf), part) for part in text]
        if len(items):
            parts.append((w_cf, self._collaborative(user_id, self._pool(k))))
        elif anchor is not None:
            similar = text[0][0]
            parts.append((w_cf, (similar, self.popularity.scores[similar])))
        else:
            parts.append((w_cf, self.popularity.recommend(self._pool(k))))
        exclude = _with(items, anchor if product_id is not None else None)
        return self._complete(blend(parts, k, exclude, size=len(self._ids)), k, exclude)

    @property
    def user_strategy(self) -> str:
        """What answers for a user by default: the ranker once one is trained, else collaborative."""
        return "ranked" if self.ranked is not None else "collaborative"

    def ranked_for(self, user_id: str | None, product_id: str | None, k: int) -> list[Recommendation]:
        """Candidates from every signal ordered by the learned ranker; the hybrid without one.

        Without feedback since the build, and without a product or with the user's latest one,
        the user's list comes from the build; a user without any item and product gets the best
        sellers; otherwise the user's candidates are ranked now, from product_id if given (never
        returned), else from their latest item.
        """
        if self.ranked is None:
            return self.hybrid(user_id, product_id, k)
        items, weights = self._items_of(user_id)
        if len(items) == 0 and product_id is None:
            # The ranker learns from shoppers with a history and a product at hand: one with
            # neither gets what the collaborative strategy gives them, the best sellers.
            return self._complete(self.popularity.recommend(k), k, items)
        if self.is_latest(user_id, product_id):
            # The build ranked the user's candidates around their latest item, which they have.
            found = self._precomputed(self.ranked.lists, user_id, k)
            if found is not None:
                return self._complete(found, k, items)
        anchor = self._anchor(user_id, product_id)
        exclude = _with(items, anchor if product_id is not None else None)
        row = self.history.user_index.get(user_id) if user_id is not None else None
        as_built = user_id not in self.feedback.items
        return self._complete(self.ranked.rank(items, weights, row, anchor, exclude, k, as_built), k, exclude)

    def is_latest(self, user_id: str | None, product_id: str | None) -> bool:
        """Whether product_id is none, or the user's latest item (what their ranked list starts from)."""
        if product_id is None:
            return True
        row = self.catalog.index.get(product_id)
        return row is not None and row == self._anchor(user_id, None)

    def by_strategy(
        self, strategy: str, user_id: str | None, product_id: str | None, k: int
    ) -> list[Recommendation]:
        """The answer of one strategy (each of STRATEGIES, the variants of an A/B experiment).

        Every strategy leaves out the user's items and product_id (404 if unknown); the
        collaborative and popularity strategies otherwise ignore the product.
        """
        if strategy == "ranked":
            return self.ranked_for(user_id, product_id, k)
        if strategy == "hybrid":
            return self.hybrid(user_id, product_id, k)
        if strategy == "content":
            return self.content_for(user_id, product_id, k)
        if strategy not in ("collaborative", "popularity"):
            raise ValueError(f"unknown strategy {strategy!r}")
        one_more = 0 if product_id is None else 1
        if product_id is not None:
            self.catalog.position(product_id)  # raises for an unknown product
        if strategy == "collaborative":
            answer = self.for_user(user_id, k + one_more)
        else:
            items, _ = self._items_of(user_id)
            answer = self._complete(self.popularity.recommend(k + one_more, items), k + one_more, items)
        return [r for r in answer if r.product_id != product_id][:k]

    def content_for(self, user_id: str | None, product_id: str | None, k: int) -> list[Recommendation]:
        """Text only: items like product_id, else like the user's items (weighted), never theirs."""
        items, _ = self._items_of(user_id)
        if product_id is not None:
            anchor = self.catalog.position(product_id)
            exclude = _with(items, anchor)
            return self._complete(top_n(*self.similar_items.of(anchor), k, exclude=exclude), k, exclude)
        if len(items) == 0:
            return self._complete(self.popularity.recommend(k), k, items)
        return self._complete(self._text_profile(user_id, k), k, items)

    # --- helpers -----------------------------------------------------------------------------

    def items_of(self, user_id: str | None) -> NDArray[np.int32]:
        """The rows of the user's items: the history the model was built on, plus feedback since."""
        return self._items_of(user_id)[0]

    def _anchor(self, user_id: str | None, product_id: str | None) -> int | None:
        """The product the content part starts from: the one asked about, else the user's latest."""
        if product_id is not None:
            return self.catalog.position(product_id)
        latest = self.feedback.latest.get(user_id) if user_id is not None else None
        return latest if latest is not None else self.history.last_item_of(user_id)

    def _items_of(self, user_id: str | None) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """The user's items and strengths: the history the model was built on, plus feedback since."""
        items, weights = self.history.items_of(user_id)
        return self.feedback.extend(user_id, items, weights)

    def _collaborative(self, user_id: str, n: int) -> Scored:
        """The user's n best items by the collaborative model."""
        return self._user_list(self.user_cf, self.collaborative.neighbours, user_id, n)

    def _text_profile(self, user_id: str, n: int) -> Scored:
        """The user's n best items by the text of their items."""
        return self._user_list(self.user_text, self.similar_items, user_id, n)

    def _user_list(self, lists: UserLists, table: Neighbours, user_id: str, n: int) -> Scored:
        """The user's n best items by one model: precomputed at build, else summed now from `table`."""
        found = self._precomputed(lists, user_id, n)
        if found is not None:
            return found
        items, weights = self._items_of(user_id)
        return top_n(*gather(table, items, weights), n, exclude=items)

    def _text_weight(
        self, items: NDArray[np.int32], weight: float, w_cf: float
    ) -> float | NDArray[np.float64]:
        """A text part's weight: products nobody has taken yet count at least new_item_weight x w_cf."""
        boost = self.settings.new_item_weight * w_cf
        if boost <= weight or not self._any_unseen:
            return weight
        return np.where(self._unseen[items], boost, weight)

    def _precomputed(self, lists: UserLists, user_id: str, n: int) -> Scored | None:
        """The user's list from the build, if it holds n items and no feedback came since."""
        row = self.history.user_index.get(user_id)
        if row is None or user_id in self.feedback.items:
            return None
        return lists.of(row, n)

    def _hybrid_lists(self) -> UserLists:
        """hybrid(user, None, k) at the default weights for every user, computed in bulk.

        The same blend as at request time, of the same parts: items like the user's latest item,
        the user's text-profile list and collaborative list. It holds the answers for k up to
        neighbours / 4, the largest k whose parts are the precomputed lists (see _pool()).
        """
        s, history = self.settings, self.history
        n = max(1, s.neighbours // 4)
        text_weight = s.w_content / 2  # two text parts: the latest item and the whole history
        lists = Neighbours(
            np.full((history.n_users, n), -1, np.int32), np.zeros((history.n_users, n), np.float32)
        )
        for rows, profile in self._text_profiles():
            latest = np.maximum(history.last_item[rows], 0)  # users without items are not served from here
            text = [
                (self.similar_items.indices[latest], self.similar_items.scores[latest]),
                (profile.indices, profile.scores),
            ]
            parts = [(self._text_weight(i, text_weight, s.w_cf), i, sc) for i, sc in text]
            cf = self.user_cf.table.indices[rows], self.user_cf.table.scores[rows]
            parts.append((s.w_cf, *cf))
            table = blend_rows(parts, n, history.matrix[rows])
            lists.indices[rows], lists.scores[rows] = table.indices, table.scores
        return UserLists(lists)

    def _text_profiles(self) -> Iterator[tuple[slice, Neighbours]]:
        """Every user's text-profile list, a chunk of users at a time: from the build's lists when
        it kept them, else summed now."""
        n_users = self.history.n_users
        if self.user_text.table.k:  # empty_lists() when the build did not keep them
            for start in range(0, n_users, CHUNK_ROWS):
                rows = slice(start, min(start + CHUNK_ROWS, n_users))
                yield rows, Neighbours(self.user_text.table.indices[rows], self.user_text.table.scores[rows])
        else:
            yield from list_chunks(self.history.matrix, self.similar_items, self.settings.neighbours)

    def _pool(self, k: int) -> int:
        """How many candidates a part brings to a blend: more than k, so the blend has a choice."""
        return max(4 * k, self.settings.neighbours)

    def _complete(self, scored: Scored, k: int, exclude: NDArray[np.integer]) -> list[Recommendation]:
        """The first k of a ranked list (that leaves out `exclude`), filled up with best sellers at 0."""
        items, scores = scored[0][:k], scored[1][:k]
        if len(items) < k:
            extra, _ = self.popularity.recommend(k - len(items), _with(exclude, *items))
            items = np.concatenate([items, extra])
            scores = np.concatenate([scores, np.zeros(len(extra), np.float32)])
        ids, titles = self._ids, self._titles
        return [
            Recommendation(ids[i], titles[i], s)
            for i, s in zip(items.tolist(), np.round(scores.astype(np.float64), 6).tolist(), strict=True)
        ]


def _history(interactions: pd.DataFrame, n_items: int, settings: ModelSettings) -> UserHistory:
    """The users' histories from the loader's frame, with their latest events."""
    history = UserHistory.build(interactions, n_items, settings.history)
    names = list(settings.interaction_weights)
    return replace(history, recent=RecentEvents.build(interactions, history.user_index, names))


def _ranker_log(
    interactions: pd.DataFrame, history: UserHistory, settings: ModelSettings
) -> pd.DataFrame | None:
    """The log if a ranker is to train on it; None when none will (turned off, or too many users)."""
    trains = settings.ranker and history.n_users <= settings.ranker_max_users
    return interactions if trains else None


def _collaborative(settings: ModelSettings, history: UserHistory) -> ItemItemModel:
    config = CollaborativeConfig(neighbours=settings.neighbours, regularization=settings.regularization)
    return ItemItemModel(config).fit(history)


def _with(items: NDArray[np.integer], *more: int | None) -> NDArray[np.int32]:
    extra = [m for m in more if m is not None]
    return np.concatenate([np.asarray(items, np.int32), np.asarray(extra, np.int32)])


def model_version(
    products_csv: str | Path,
    interactions_csv: str | Path,
    settings: ModelSettings,
    feedback_last_id: int = 0,
    catalog_last_id: int = 0,
) -> str:
    """A short digest of the input files, settings, feedback, catalog changes and model format:
    same inputs, same version."""
    chosen = {name: value for name, value in vars(settings).items() if name != "ranker_seed" or value}
    inputs = (sorted(chosen.items()), feedback_last_id, MODEL_FORMAT)  # (seed 0: versions as before)
    if catalog_last_id:  # (versions made before catalog changes existed stay as they were)
        inputs += (catalog_last_id,)
    digest = hashlib.sha256(repr(inputs).encode())
    for path in (products_csv, interactions_csv):
        try:
            with open(path, "rb") as f:
                for block in iter(lambda f=f: f.read(1 << 20), b""):
                    digest.update(block)
        except FileNotFoundError:
            raise DataError(f"{path}: file not found") from None
    return digest.hexdigest()[:12]
