"""The ranked strategy: candidates from every signal, ordered by the ranker trained on the store's past.

Every user's list is ranked at build time; a request with a product to start from, or from a
user whose feedback arrived since, ranks that user's few hundred candidates at request time with
the same code. Without a trained ranker (a store too small or too new, a ranker that did not
beat the blend on the latest weeks, or more users than RANKER_MAX_USERS) there is no RankedModel:
the hybrid's blend answers for the ranked strategy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from recommender.data.history import HistoryConfig, UserHistory
from recommender.data.snapshot import ItemStats, Snapshot
from recommender.models.neighbours import Neighbours, UserLists, place, ranked
from recommender.ranking.candidates import PERSONAL, SIZES, NearestNew, Pool, Sources, personal_lists, pool
from recommender.ranking.config import RankerConfig
from recommender.ranking.features import ProductFacts, UserFacts, features
from recommender.ranking.ranker import Ranker, build_threads, train
from recommender.ranking.windows import Collaborate, build_window, on_sale_from, window_starts

log = logging.getLogger(__name__)

LIST_SIZE = 100  # each user's ranked list kept from the build
PAIRS_PER_BATCH = 2_000_000  # candidate pairs scored at once when ranking every user at build


@dataclass
class RankedModel:
    """A trained ranker with the arrays it ranks from, and every user's list from the build."""

    ranker: Ranker
    sources: Sources
    items: ItemStats
    products: ProductFacts
    events: NDArray[np.float32]  # per user row of the served history
    idle_days: NDArray[np.float32]
    personal: dict[str, UserLists]  # per user row: the lists of the personal sources (PERSONAL)
    lists: UserLists | None = None

    def rank_all(self, matrix: sp.csr_matrix, last_item: NDArray[np.int32]) -> UserLists:
        """Every user's best LIST_SIZE candidates, in batches of users."""
        n_users = matrix.shape[0]
        table = Neighbours(
            np.full((n_users, LIST_SIZE), -1, np.int32), np.zeros((n_users, LIST_SIZE), np.float32)
        )
        batch = max(1, PAIRS_PER_BATCH // 400)
        for start in range(0, n_users, batch):
            rows = np.arange(start, min(start + batch, n_users))
            candidates, x = self.candidates(matrix, last_item, rows)
            scores = self.ranker.score(x, threads=build_threads())
            place(table, *ranked(candidates.rows, candidates.items, scores, len(rows)), start)
        return UserLists(table)

    def candidates(
        self, matrix: sp.csr_matrix, last_item: NDArray[np.int32], rows: NDArray[np.integer]
    ) -> tuple[Pool, NDArray[np.float32]]:
        """The candidates of some users of the built history, and their features."""
        holdings = matrix[rows]
        personal = {name: _rows(lists.table, rows) for name, lists in self.personal.items()}
        candidates = pool(self.sources, holdings, last_item[rows], personal)
        facts = UserFacts(self.events[rows], self.idle_days[rows])
        return candidates, features(candidates, holdings, facts, self.items, self.products)

    def rank(
        self,
        items: NDArray[np.int32],
        weights: NDArray[np.float32],
        row: int | None,
        anchor: int | None,
        exclude: NDArray[np.integer],
        n: int,
        as_built: bool = False,
    ) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """One user's best n candidates now: their items (with strengths), their row in the built
        history (None: unknown to it), the product to start from; never one of `exclude`.
        `as_built`: the items are the row's items at build (no feedback since), so the personal
        lists of the build serve."""
        n_items = len(self.products.category)
        holdings = sp.csr_matrix(
            (np.asarray(weights, np.float32), np.asarray(items, np.int32), [0, len(items)]),
            shape=(1, n_items),
        )
        holdings.sort_indices()
        anchors = np.array([-1 if anchor is None else anchor])
        built = as_built and row is not None
        personal = (
            {name: _rows(lists.table, [row]) for name, lists in self.personal.items()} if built else None
        )
        candidates = pool(self.sources, holdings, anchors, personal)
        if row is None:
            facts = UserFacts(np.full(1, np.nan, np.float32), np.full(1, np.nan, np.float32))
        else:
            facts = UserFacts(self.events[row : row + 1], self.idle_days[row : row + 1])
        scores = self.ranker.score(features(candidates, holdings, facts, self.items, self.products))
        keep = ~np.isin(candidates.items, exclude)
        items_kept, scores = candidates.items[keep], scores[keep]
        order = np.lexsort((items_kept, -scores))[:n]
        return items_kept[order], scores[order]


def _rows(table: Neighbours, rows) -> Neighbours:  # type: ignore[no-untyped-def]
    return Neighbours(table.indices[rows], table.scores[rows])


def fit_ranked(
    interactions: pd.DataFrame | None,
    history: UserHistory,
    text: Neighbours,
    vectors: sp.csr_matrix,
    collaborative: Neighbours,
    collaborate: Collaborate,
    products: ProductFacts,
    history_config: HistoryConfig,
    config: RankerConfig | None = None,
    built: Mapping[str, UserLists] | None = None,
) -> tuple[RankedModel | None, str]:
    """Train a ranker on windows of the log (whose users' history is `history`) and rank every
    user's candidates; or None and why not (then the hybrid answers for the ranked strategy).

    `built`: lists of personal sources the caller made already from the same history and tables
    (the model's collaborative and text-profile lists); those as wide as the source's size serve
    as they are instead of being made twice. `interactions` may be None (the log let go) only
    when there are more users than `config.max_users`.
    """
    config = config or RankerConfig()
    n_users = history.n_users
    if n_users > config.max_users:
        return None, (
            f"{n_users} users: ranking every user's candidates at build is limited to {config.max_users} "
            "users (RANKER_MAX_USERS)"
        )
    assert interactions is not None, "the ranker trains on the log"
    ts = interactions["ts"].to_numpy()
    end = ts.max() + np.timedelta64(1, "s") if len(ts) else np.datetime64(0, "ns")  # after the last
    snapshot = Snapshot.build(interactions, len(products.category), end, history_config, history=history)
    unsold = np.isnan(snapshot.items.age_days)  # no interaction in the whole log
    nearest = NearestNew.build(vectors, unsold)  # the windows' and the served model's, in part
    started = time.perf_counter()
    ranker, reason = _train(
        interactions, snapshot, text, vectors, collaborate, products, history_config, config, nearest
    )
    log.info("ranker: %s (%.1f s)", reason, time.perf_counter() - started)
    if ranker is None:
        return None, reason
    sources = Sources.build(text, collaborative, vectors, snapshot.items, snapshot.exists, nearest)
    n_items = history.matrix.shape[1]  # user_lists() keeps at most that many
    personal = {
        name: lists for name, lists in (built or {}).items() if lists.table.k == min(SIZES[name], n_items)
    }
    missing = [name for name in PERSONAL if name not in personal]
    for name, table in personal_lists(sources, snapshot.history.matrix, missing).items():
        personal[name] = UserLists(table)
    model = RankedModel(
        ranker, sources, snapshot.items, products, snapshot.events, snapshot.idle_days, personal
    )
    started = time.perf_counter()
    model.lists = model.rank_all(snapshot.history.matrix, snapshot.history.last_item)
    log.info("ranked lists of %d users in %.1f s", n_users, time.perf_counter() - started)
    return model, reason


def _train(
    interactions: pd.DataFrame,
    snapshot: Snapshot,
    text: Neighbours,
    vectors: sp.csr_matrix,
    collaborate: Collaborate,
    products: ProductFacts,
    history_config: HistoryConfig,
    config: RankerConfig,
    nearest: NearestNew,
) -> tuple[Ranker | None, str]:
    if not len(interactions):
        return None, "no interactions to learn from"
    ts = interactions["ts"].to_numpy()
    on_sale = on_sale_from(interactions, len(products.category))
    rng = np.random.default_rng(config.seed)
    windows = []
    for i, at in enumerate(window_starts(snapshot.at, ts.min(), config)):
        negatives = 1.0 if i == 0 else config.negatives  # the latest is held out: scored in full
        window = build_window(
            interactions,
            at,
            config,
            text,
            vectors,
            products,
            collaborate,
            history_config,
            on_sale,
            rng,
            negatives,
            nearest,
        )
        if window is not None:
            windows.append(window)
    return train(windows, config)
