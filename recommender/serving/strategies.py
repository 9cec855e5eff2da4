"""The ways of answering for a user: one interface, one class per strategy.

Every strategy answers `recommend(user_id, product_id, k)` with at most k products, best first
(scores never rise), each once, never one the user has and never product_id; an unknown product
raises UnknownProductError; a user the model does not know is a stranger, not an error. Short
answers are filled up with best sellers at score 0. A strategy writes `rows()`, the same answer as
rows of the catalog and their scores: the web layer filters those before it names them, and
`recommend()` names them all. tests/test_service.py runs one contract suite over every strategy.

A strategy holds no fitted state of its own: it reads the model's (the FittedModel it serves),
so a model loaded from artifacts and one just built answer alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from recommender.models.hybrid import Part, Scored, blend, blend_rows
from recommender.models.lists_on_disk import ListsWriter
from recommender.models.merging import top_n
from recommender.models.neighbours import LIST_ROWS, Neighbours, UserLists, list_chunks
from recommender.serving.model import FittedModel, Recommendation, with_items


class Strategy(ABC):
    """One way of answering; `name` is what the routes, the A/B router and the evaluation call it."""

    name: ClassVar[str]

    def __init__(self, model: FittedModel) -> None:
        self.model = model

    def recommend(
        self, user_id: str | None, product_id: str | None, k: int, **options: float | None
    ) -> list[Recommendation]:
        """At most k products for the user, best first (see the module's docstring); `options`
        are the strategy's own (the hybrid's weights)."""
        return self.model.recommendations(self.rows(user_id, product_id, k, **options))

    @abstractmethod
    def rows(self, user_id: str | None, product_id: str | None, k: int) -> Scored:
        """recommend() as rows of the catalog and their scores."""


class Content(Strategy):
    """Text only: items like product_id, else like the user's items (weighted), never theirs."""

    name = "content"

    def rows(self, user_id: str | None, product_id: str | None, k: int) -> Scored:
        m = self.model
        items, _ = m.items_and_weights(user_id)
        if product_id is not None:
            anchor = m.catalog.position(product_id)
            exclude = with_items(items, anchor)
            return m.filled(top_n(*m.similar_items.of(anchor), k, exclude=exclude), k, exclude)
        if len(items) == 0:
            return m.filled(m.popularity.recommend(k), k, items)
        return m.filled(m.text_profile(user_id, k), k, items)

    def similar(self, product_id: str, k: int) -> Scored:
        """Products most like product_id by their text, never product_id itself (as rows)."""
        m = self.model
        item = m.catalog.position(product_id)
        items, scores = m.similar_items.of(item)
        return m.filled((items[:k], scores[:k]), k, np.array([item], np.int32))


class Collaborative(Strategy):
    """The item-item model's list for the user's items; best sellers for a stranger."""

    name = "collaborative"

    def rows(self, user_id: str | None, product_id: str | None, k: int) -> Scored:
        return _without_product(self.model, self.for_user, user_id, product_id, k)

    def for_user(self, user_id: str | None, k: int) -> Scored:
        m = self.model
        items, _ = m.items_and_weights(user_id)
        if len(items) == 0:
            return m.filled(m.popularity.recommend(k), k, items)
        return m.filled(m.collaborative_list(user_id, k), k, items)


class Popularity(Strategy):
    """The best sellers the user does not have."""

    name = "popularity"

    def rows(self, user_id: str | None, product_id: str | None, k: int) -> Scored:
        return _without_product(self.model, self.best_sellers, user_id, product_id, k)

    def best_sellers(self, user_id: str | None, k: int) -> Scored:
        m = self.model
        items, _ = m.items_and_weights(user_id)
        return m.filled(m.popularity.recommend(k, items), k, items)


class Hybrid(Strategy):
    """Blend of text similarity and the collaborative model, each scaled to [0, 1] first.

    The text part is split evenly between items like the context product (product_id, else the
    user's latest item) and items like the user's whole history (recency-weighted). Products
    nobody has interacted with yet are invisible to the collaborative part, so they count at
    new_item_weight x w_cf when that is more than w_content: new products reach users. Without a
    known user, the context product's similar items are ranked by popularity instead.
    """

    name = "hybrid"

    def rows(
        self,
        user_id: str | None,
        product_id: str | None,
        k: int,
        w_content: float | None = None,
        w_cf: float | None = None,
    ) -> Scored:
        m, settings = self.model, self.model.settings
        w_content = settings.w_content if w_content is None else w_content
        w_cf = settings.w_cf if w_cf is None else w_cf
        items, _ = m.items_and_weights(user_id)
        defaults = (w_content, w_cf) == (settings.w_content, settings.w_cf)
        if user_id is not None and product_id is None and len(items) and defaults:
            found = m.precomputed(m.user_hybrid, user_id, k)
            if found is not None:
                return m.filled(found, k, items)
        anchor = m.anchor(user_id, product_id)
        text: list[Scored] = []
        if anchor is not None:
            text.append(m.similar_items.of(anchor))
        if len(items):
            text.append(m.text_profile(user_id, m.pool(k)))
        text_weight = w_content / len(text) if text else 0.0
        new_weight = self.new_item_weight(text_weight, w_cf)
        parts = [Part(text_weight, part, new_weight) for part in text]
        if len(items):
            parts.append(Part(w_cf, m.collaborative_list(user_id, m.pool(k))))
        elif anchor is not None:
            similar = text[0][0]
            popular = m.popularity.scores[similar]
            order = np.argsort(-popular, kind="stable")  # best first, as blend() takes its lists
            parts.append(Part(w_cf, (similar[order], popular[order])))
        else:
            parts.append(Part(w_cf, m.popularity.recommend(m.pool(k))))
        exclude = with_items(items, anchor if product_id is not None else None)
        return m.filled(blend(parts, k, exclude, m.unseen), k, exclude)

    def new_item_weight(self, weight: float, w_cf: float) -> float:
        """A text part's weight for products nobody has taken yet: at least new_item_weight x w_cf."""
        m = self.model
        return max(weight, m.settings.new_item_weight * w_cf) if m.any_unseen else weight

    def text_weight(
        self, items: NDArray[np.int32], weight: float, w_cf: float
    ) -> float | NDArray[np.float64]:
        """A text part's weight for each of its items (new_item_weight() for those nobody has taken yet)."""
        boost = self.new_item_weight(weight, w_cf)
        return weight if boost == weight else np.where(self.model.unseen[items], boost, weight)

    def lists(self) -> tuple[UserLists, UserLists]:
        """recommend(user, None, k) at the default weights for every user, computed in bulk, and
        the users' text-profile lists it was blended from.

        The same blend as at request time, of the same parts: items like the user's latest item,
        the user's text-profile list and collaborative list. It holds the answers for k up to
        neighbours / 4, the largest k whose parts are the precomputed lists (see FittedModel.pool()).
        When the build kept no text-profile lists (more users than text_lists_max_users), they are
        summed here a chunk of users at a time, written to disk as they are made and mapped back.
        """
        m = self.model
        n_users, n = m.history.n_users, max(1, m.settings.neighbours // 4)
        lists = Neighbours(np.full((n_users, n), -1, np.int32), np.zeros((n_users, n), np.float32))
        kept = m.user_text.table.k > 0  # empty_lists() when the build did not keep them
        writer = None if kept else ListsWriter(n_users, min(m.settings.neighbours, len(m.catalog)))
        try:
            for rows, profile in self._text_profiles():
                if writer is not None:
                    writer.write(rows, profile)
                table = self._blended(rows, profile, n)
                lists.indices[rows], lists.scores[rows] = table.indices, table.scores
        except BaseException:
            if writer is not None:
                writer.discard()
            raise
        return UserLists(lists), m.user_text if writer is None else writer.lists()

    def _blended(self, rows: slice, profile: Neighbours, n: int) -> Neighbours:
        """lists() for one chunk of users, given their text-profile lists."""
        m = self.model
        s, history = m.settings, m.history
        text_weight = s.w_content / 2  # two text parts: the latest item and the whole history
        latest = np.maximum(history.last_item[rows], 0)  # users without items are not served from here
        text = [
            (m.similar_items.indices[latest], m.similar_items.scores[latest]),
            (profile.indices, profile.scores),
        ]
        parts = [(self.text_weight(i, text_weight, s.w_cf), i, sc) for i, sc in text]
        cf = m.user_cf.table.indices[rows], m.user_cf.table.scores[rows]
        parts.append((s.w_cf, *cf))
        return blend_rows(parts, n, history.matrix[rows])

    def _text_profiles(self) -> Iterator[tuple[slice, Neighbours]]:
        """Every user's text-profile list, a chunk of users at a time: from the build's lists when
        it kept them, else summed now."""
        m = self.model
        n_users = m.history.n_users
        if m.user_text.table.k:
            for start in range(0, n_users, LIST_ROWS):
                rows = slice(start, min(start + LIST_ROWS, n_users))
                yield rows, Neighbours(m.user_text.table.indices[rows], m.user_text.table.scores[rows])
        else:
            yield from list_chunks(m.history.matrix, m.similar_items, m.settings.neighbours)


class Ranked(Strategy):
    """Candidates from every signal ordered by the learned ranker; the hybrid without one.

    Without feedback since the build, and without a product or with the user's latest one, the
    user's list comes from the build; a user without any item and product gets the best sellers;
    otherwise the user's candidates are ranked now, from product_id if given (never returned),
    else from their latest item.
    """

    name = "ranked"

    def rows(self, user_id: str | None, product_id: str | None, k: int) -> Scored:
        m = self.model
        if m.ranked is None:
            return Hybrid(m).rows(user_id, product_id, k)
        items, weights = m.items_and_weights(user_id)
        if len(items) == 0 and product_id is None:
            # The ranker learns from shoppers with a history and a product at hand: one with
            # neither gets what the collaborative strategy gives them, the best sellers.
            return m.filled(m.popularity.recommend(k), k, items)
        if self.is_latest(user_id, product_id):
            # The build ranked the user's candidates around their latest item, which they have.
            found = m.precomputed(m.ranked.lists, user_id, k)
            if found is not None:
                return m.filled(found, k, items)
        anchor = m.anchor(user_id, product_id)
        exclude = with_items(items, anchor if product_id is not None else None)
        row = m.history.user_index.get(user_id) if user_id is not None else None
        as_built = user_id not in m.feedback.items
        return m.filled(m.ranked.rank(items, weights, row, anchor, exclude, k, as_built), k, exclude)

    def is_latest(self, user_id: str | None, product_id: str | None) -> bool:
        """Whether product_id is none, or the user's latest item (what their ranked list starts from)."""
        if product_id is None:
            return True
        m = self.model
        row = m.catalog.index.get(product_id)
        return row is not None and row == m.anchor(user_id, None)


STRATEGY_CLASSES: tuple[type[Strategy], ...] = (Content, Collaborative, Hybrid, Popularity, Ranked)


def _without_product(model: FittedModel, answer, user_id, product_id, k):  # type: ignore[no-untyped-def]
    """The user's answer one longer, with product_id (checked: 404 when unknown) taken out: a
    strategy that ignores the product still never offers it."""
    if product_id is None:
        return answer(user_id, k)
    row = model.catalog.position(product_id)  # raises for an unknown product
    items, scores = answer(user_id, k + 1)
    keep = items != row
    return items[keep][:k], scores[keep][:k]
