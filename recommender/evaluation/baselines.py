"""Standard baselines for the evaluation: EASE (Steck 2019) and implicit's BM25 item-KNN.

Evaluation only: `implicit` is a development dependency, imported when its baseline runs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

# user rows -> top-k item indices for each
BatchScorer = Callable[[NDArray[np.integer], int], list[NDArray[np.int32]]]

# EASE inverts a dense items x items matrix: only where that fits comfortably in memory.
EASE_MAX_ITEMS = 20_000


def ease(user_items: sp.csr_matrix, regularization: float) -> BatchScorer:
    """Closed-form EASE (see ease_weights), scoring each user's row."""
    weights = ease_weights(user_items, regularization)

    def recommend(users: NDArray[np.integer], k: int) -> list[NDArray[np.int32]]:
        rows = user_items[users]
        scores = np.asarray(rows @ weights)
        scores[rows.nonzero()] = -np.inf
        return [_top(row, k) for row in scores]

    return recommend


def ease_on_most_taken(
    user_items: sp.csr_matrix, regularization: float, limit: int = EASE_MAX_ITEMS
) -> BatchScorer:
    """EASE over the products someone took, the EASE_MAX_ITEMS most taken when there are more
    (a larger catalog's dense inverse would not fit); the others are never recommended."""
    columns = most_taken(user_items, limit)
    weights = ease_weights(user_items[:, columns], regularization)

    def recommend(users: NDArray[np.integer], k: int) -> list[NDArray[np.int32]]:
        rows = user_items[users][:, columns]
        scores = np.asarray(rows @ weights)
        scores[rows.nonzero()] = -np.inf
        return [columns[_top(row, k)].astype(np.int32) for row in scores]

    return recommend


def most_taken(user_items: sp.csr_matrix, limit: int = EASE_MAX_ITEMS) -> NDArray[np.int64]:
    """The columns of the products someone took, in order; the `limit` most taken when more."""
    counts = np.diff(user_items.tocsc().indptr)
    columns = np.flatnonzero(counts > 0)
    if len(columns) > limit:
        columns = np.sort(np.argsort(-counts, kind="stable")[:limit])
    return columns


def ease_weights(user_items: sp.csr_matrix, regularization: float) -> NDArray[np.float64]:
    """B = I - P diag(1/diag(P)), P = (X^T X + lambda I)^-1, with a zero diagonal."""
    n_items = user_items.shape[1]
    if n_items > EASE_MAX_ITEMS:
        raise ValueError(f"EASE needs a dense {n_items}x{n_items} inverse; limited to {EASE_MAX_ITEMS} items")
    x = user_items.astype(np.float64)
    gram = (x.T @ x).toarray()
    gram[np.diag_indices(n_items)] += regularization
    p = np.linalg.inv(gram)
    del gram
    p /= -np.diag(p).copy()  # column j by its own diagonal entry
    p[np.diag_indices(n_items)] = 0.0
    return p


def bm25_item_knn(
    user_items: sp.csr_matrix, neighbours: int, k1: float = 1.2, b: float = 0.75
) -> BatchScorer:
    """implicit's BM25Recommender: item-item cosine on BM25-weighted interactions."""
    from implicit.nearest_neighbours import BM25Recommender
    from implicit.utils import ParameterWarning

    model = BM25Recommender(K=neighbours, K1=k1, B=b, num_threads=0)
    with warnings.catch_warnings():
        # implicit converts its own BM25 weights from COO and warns about it; our input is CSR.
        warnings.simplefilter("ignore", ParameterWarning)
        model.fit(user_items, show_progress=False)

    def recommend(users: NDArray[np.integer], k: int) -> list[NDArray[np.int32]]:
        ids, _ = model.recommend(users, user_items[users], N=k, filter_already_liked_items=True)
        return [row[row >= 0].astype(np.int32) for row in np.atleast_2d(ids)]

    return recommend


def _top(scores: NDArray[np.floating], k: int) -> NDArray[np.int32]:
    k = min(k, len(scores))
    part = np.argpartition(-scores, k - 1)[:k]
    order = part[np.argsort(-scores[part], kind="stable")]
    return order[np.isfinite(scores[order])].astype(np.int32)
