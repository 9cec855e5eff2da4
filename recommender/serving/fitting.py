"""What a model is made from (ModelSettings, and the version that names it) and how it is fitted.

fit_models() runs the build's stages in order, freeing what each leaves behind before the next:
the text model, the collaborative model, popularity, every user's lists, then the ranker.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import pandas as pd

from recommender.data.data_loader import Catalog
from recommender.data.history import HistoryConfig, UserHistory
from recommender.memory import release_freed
from recommender.models.collaborative import CollaborativeConfig, ItemItemModel
from recommender.models.content_based import ContentConfig, ContentModel, TextSpace
from recommender.models.neighbours import Neighbours, UserLists, empty_lists, user_lists
from recommender.models.popularity import Popularity
from recommender.ranking.config import RankerConfig
from recommender.ranking.features import ProductFacts
from recommender.ranking.ranked import RankedModel, fit_ranked

if TYPE_CHECKING:
    from recommender.storage.inputs import StoreInputs

log = logging.getLogger(__name__)

# How a built model is laid out (its arrays and what they hold). It is part of every model version,
# so a release that changes it builds afresh instead of loading a folder an older release saved.
MODEL_FORMAT = 8


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
    # More users than this: the users' text-profile lists (0.8 KB a user) are not held in memory
    # beside the other lists, unless a ranker trains on them: they are made a chunk of users at
    # a time with the hybrid lists and written to disk as they are made (Hybrid.lists()).
    text_lists_max_users: int = 1_000_000

    @property
    def history(self) -> HistoryConfig:
        return HistoryConfig(dict(self.interaction_weights), self.recency_days, self.recency_floor)


class Fitted(NamedTuple):
    """Every fitted part of a model, in the order Recommender() takes them."""

    similar_items: Neighbours
    collaborative: ItemItemModel
    popularity: Popularity
    user_cf: UserLists
    user_text: UserLists
    ranked: RankedModel | None
    ranker_reason: str
    text: TextSpace

    def parts(self) -> tuple:
        return tuple(self)[:-1]  # all but the text space, which Recommender() takes by name


def fit_models(
    catalog: Catalog, history: UserHistory, ranker_log: pd.DataFrame | None, settings: ModelSettings
) -> Fitted:
    """Fit every model on the users' histories; the ranker trains on `ranker_log` (the loader's
    frame), which is None when there is no ranker to train (ranker_log_of())."""
    started = time.perf_counter()
    content = ContentModel(ContentConfig(neighbours=settings.neighbours)).fit(catalog)
    similar_items = content.neighbours
    log.info("text neighbours of %d products in %.1f s", len(catalog), time.perf_counter() - started)
    release_freed()
    started = time.perf_counter()
    collaborative = collaborative_of(settings, history)
    log.info("collaborative model over %d users in %.1f s", history.n_users, time.perf_counter() - started)
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
        log.info("text-profile lists are made with the hybrid lists, on disk: more than %d users", limit)
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
            lambda h: collaborative_of(settings, h).neighbours,
            ProductFacts.of(catalog.categories, catalog.prices),
            settings.history,
            RankerConfig(max_users=settings.ranker_max_users, seed=settings.ranker_seed),
            built={"collaborative": user_cf, "text": user_text},
        )
        if ranked is None:
            log.info("no ranker: %s; the hybrid answers for the ranked strategy", reason)
    return Fitted(similar_items, collaborative, popularity, user_cf, user_text, ranked, reason, content.text)


def history_of(interactions: pd.DataFrame, n_items: int, settings: ModelSettings) -> UserHistory:
    """The users' histories from the loader's frame, with their latest events."""
    return UserHistory.build(interactions, n_items, settings.history, recent=True)


def ranker_log_of(
    interactions: pd.DataFrame, history: UserHistory, settings: ModelSettings
) -> pd.DataFrame | None:
    """The log if a ranker is to train on it; None when none will (turned off, or too many users)."""
    trains = settings.ranker and history.n_users <= settings.ranker_max_users
    return interactions if trains else None


def collaborative_of(settings: ModelSettings, history: UserHistory) -> ItemItemModel:
    config = CollaborativeConfig(neighbours=settings.neighbours, regularization=settings.regularization)
    return ItemItemModel(config).fit(history)


def model_version(
    inputs: StoreInputs,
    settings: ModelSettings,
    feedback_last_id: int = 0,
    catalog_last_id: int = 0,
) -> str:
    """A short digest of the inputs, settings, feedback, catalog changes and model format: same
    inputs, same version."""
    chosen = {name: value for name, value in vars(settings).items() if name != "ranker_seed" or value}
    inputs_named = (sorted(chosen.items()), feedback_last_id, MODEL_FORMAT)  # (seed 0: versions as before)
    if catalog_last_id:  # (versions made before catalog changes existed stay as they were)
        inputs_named += (catalog_last_id,)
    digest = hashlib.sha256(repr(inputs_named).encode())
    inputs.digest_into(digest)
    return digest.hexdigest()[:12]
