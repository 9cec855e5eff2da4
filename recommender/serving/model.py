"""A fitted model's parts, and what every strategy reads from them: the user's items (with the
feedback since the build), the lists kept from the build, and the answer's final form.

The facade (service.Recommender) adds the strategies on top; the strategies (strategies.py) read
a FittedModel, so neither module needs the other's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from recommender.data.data_loader import Catalog
from recommender.data.history import UserHistory
from recommender.models.collaborative import ItemItemModel
from recommender.models.content_based import TextSpace
from recommender.models.hybrid import Scored
from recommender.models.merging import gather, top_n
from recommender.models.neighbours import Neighbours, UserLists
from recommender.models.popularity import Popularity
from recommender.ranking.ranked import RankedModel
from recommender.serving.fitting import ModelSettings
from recommender.serving.overlay import FeedbackOverlay


@dataclass  # not frozen: three times as long to create; no slots: orjson writes one five times slower
class Recommendation:
    product_id: str
    title: str
    score: float


class FittedModel:
    """Fitted models over one catalog and one interaction log."""

    # Each user's hybrid answer without a product, at the default weights: blended by Recommender
    # once its strategies exist (or loaded from artifacts).
    user_hybrid: UserLists

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
        return top_n(*gather(table, items, weights, exclude=items), n)

    def precomputed(self, lists: UserLists, user_id: str, n: int) -> Scored | None:
        """The user's list from the build, if it holds n items and no feedback came since."""
        row = self.history.user_index.get(user_id)
        if row is None or user_id in self.feedback.items:
            return None
        return lists.of(row, n)

    def pool(self, k: int) -> int:
        """How many candidates a part brings to a blend: more than k, so the blend has a choice."""
        return max(4 * k, self.settings.neighbours)

    def filled(self, scored: Scored, k: int, exclude: NDArray[np.integer]) -> Scored:
        """The first k of a ranked list (that leaves out `exclude`), filled up with best sellers at 0."""
        items, scores = scored[0][:k], scored[1][:k]
        if len(items) < k:
            extra, _ = self.popularity.recommend(k - len(items), with_items(exclude, *items))
            items = np.concatenate([items, extra])
            scores = np.concatenate([scores, np.zeros(len(extra), np.float32)])
        return items, scores

    def recommendations(self, answer: Scored) -> list[Recommendation]:
        """An answer's rows as a shopper is shown them: ids, titles and scores (to 6 decimals)."""
        ids, titles = self._ids, self._titles
        return [Recommendation(ids[i], titles[i], s) for i, s in _rounded(answer)]

    def product_ids(self, rows: Iterable[int]) -> list[str]:
        """The ids of the products at these rows of the catalog."""
        ids = self._ids
        return [ids[row] for row in rows]

    def named(self, answer: Scored) -> list[tuple[str, float]]:
        """An answer's rows as (product id, score), the scores as recommendations() gives them."""
        ids = self._ids
        return [(ids[i], s) for i, s in _rounded(answer)]


def _rounded(answer: Scored) -> zip[tuple[int, float]]:
    """Each (row, score) of an answer as Python numbers, the score to 6 decimals."""
    items, scores = answer
    return zip(items.tolist(), scores.astype(np.float64).round(6).tolist(), strict=True)


def with_items(items: NDArray[np.integer], *more: int | None) -> NDArray[np.int32]:
    """The items and the given extra ones (None: none), as one array of rows."""
    extra = [m for m in more if m is not None]
    rows = np.empty(len(items) + len(extra), np.int32)
    rows[: len(items)] = items
    rows[len(items) :] = extra
    return rows
