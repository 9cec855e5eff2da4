"""Blend several scored candidate lists into one ranking."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from numba import njit, types
from numpy.typing import NDArray

from recommender.models.neighbours import Neighbours, best_of_rows, entries, not_owned, place, ranked

Scored = tuple[NDArray[np.int32], NDArray[np.float32]]


class Part(NamedTuple):
    """One list of a blend: its weight, its (items, scores) best first, and the weight its products
    nobody has taken yet get instead (None: the same weight)."""

    weight: float
    scored: Scored
    new_weight: float | None = None


def blend(
    parts: Sequence[Part],
    n: int,
    exclude: NDArray[np.integer] | None = None,
    unseen: NDArray[np.bool_] | None = None,
) -> Scored:
    """Weighted sum of up to three lists after scaling each to [0, 1] by its best score; the n
    best, ties to the lower item, none of `exclude`.

    Scaling first makes the weights mean what they say: cosine similarities (at most 1) and
    summed collaborative scores (often far above 1) would otherwise not be comparable. Each list
    is best first, so its best score is its first. `unseen` marks the products nobody has taken
    yet, which get a part's new_weight.

    Called on every request with a product, so it runs as one compiled loop (_top_of_blend) over
    the few hundred entries, not the three dozen numpy calls the same steps would take.
    """
    lists = [_as_list(part) for part in parts if len(part.scored[1]) and part.scored[1][0] > 0]
    if len(lists) > MAX_PARTS:
        raise ValueError(f"blend() takes at most {MAX_PARTS} lists; got {len(lists)}")
    if not lists or n <= 0:
        return np.empty(0, np.int32), np.empty(0, np.float32)
    weighs_new = unseen is not None and any(weight != new for _, _, weight, new in lists)
    lists += [_NO_LIST] * (MAX_PARTS - len(lists))
    left_out = _NO_ITEMS if exclude is None else np.asarray(exclude, np.int32)
    return _top_of_blend(tuple(lists), unseen if weighs_new else _NO_ONE, left_out, n)


MAX_PARTS = 3  # the hybrid's: items like the product, the user's text-profile and collaborative lists


def _as_list(part: Part) -> tuple[NDArray[np.int32], NDArray[np.float32], float, float]:
    """A part as _top_of_blend() takes it: items, scores, weight, weight of the new products."""
    weight, (items, scores), new_weight = part
    new_weight = weight if new_weight is None else new_weight
    return np.asarray(items, np.int32), np.asarray(scores, np.float32), weight, new_weight


_NO_ITEMS = np.zeros(0, np.int32)
_NO_LIST = (_NO_ITEMS, np.zeros(0, np.float32), 0.0, 0.0)
_NO_ONE = np.zeros(0, np.bool_)  # no product is looked up as new


@njit(cache=True)
def _slot(keys: NDArray[np.int64], item: int, slots: int) -> int:
    """Where `item` is in the hash table `keys` (-1: free), or the free slot it would go to."""
    slot = (item * 2654435761) & (slots - 1)
    while keys[slot] != -1 and keys[slot] != item:
        slot = (slot + 1) & (slots - 1)
    return slot


@njit(cache=True)
def _before(score: float, item: int, other_score: float, other_item: int) -> bool:
    """Whether (score, item) ranks before the other: the higher score, on a tie the lower item."""
    return score > other_score or (score == other_score and item < other_item)


def _array(dtype: types.Type) -> types.Array:
    """A numba type that takes any one-dimensional array of `dtype`: writable or not (mapped
    from a saved model), contiguous or not. One type per argument, so one compilation."""
    return types.Array(dtype, 1, "A", readonly=True)


_LIST = (_array(types.int32), _array(types.float32), types.float64, types.float64)
_SIGNATURE = types.Tuple((types.int32[::1], types.float32[::1]))(
    # each list: items, scores, weight, weight of the products nobody has taken yet
    types.UniTuple(types.Tuple(_LIST), MAX_PARTS),
    _array(types.boolean),  # those products, as a mask of the catalog (empty: none looked up)
    _array(types.int32),  # items to leave out
    types.int64,  # how many to keep
)


@njit(_SIGNATURE, cache=True)
def _top_of_blend(
    lists: tuple[tuple[NDArray[np.int32], NDArray[np.float32], float, float], ...],
    unseen: NDArray[np.bool_],
    exclude: NDArray[np.int32],
    n: int,
) -> Scored:
    """blend() of its lists. Each item's scaled, weighted scores are added up in a small hash
    table (about two slots per entry, so it stays in the processor's caches where a
    catalog-sized array would not), in the lists' order and in float32, as blend_rows() adds
    them; the n best are then kept by insertion."""
    entries = 0
    for part in range(MAX_PARTS):
        entries += len(lists[part][0])
    slots = 1
    while slots < 2 * entries:
        slots *= 2
    keys = np.full(slots, -1, np.int64)
    sums = np.zeros(slots, np.float32)
    for part in range(MAX_PARTS):
        items, scores, weight, new_weight = lists[part]
        if len(items) == 0:
            continue
        top = np.float64(scores[0])  # the list's best
        factor, new_factor = np.float32(weight / top), np.float32(new_weight / top)
        for j in range(len(items)):
            item = items[j]
            slot = _slot(keys, item, slots)
            keys[slot] = item
            sums[slot] += scores[j] * (new_factor if len(unseen) and unseen[item] else factor)
    for item in exclude:
        slot = _slot(keys, item, slots)
        if keys[slot] == item:
            sums[slot] = 0  # not kept: only positive sums are
    best_items = np.empty(n, np.int32)
    best_scores = np.empty(n, np.float32)
    kept = 0
    for slot in range(slots):
        item, total = keys[slot], sums[slot]
        if item < 0 or not total > 0:
            continue
        if kept == n and not _before(total, item, best_scores[n - 1], best_items[n - 1]):
            continue
        place = min(kept, n - 1)
        while place > 0 and _before(total, item, best_scores[place - 1], best_items[place - 1]):
            best_items[place], best_scores[place] = best_items[place - 1], best_scores[place - 1]
            place -= 1
        best_items[place], best_scores[place] = item, total
        kept = min(kept + 1, n)
    return best_items[:kept], best_scores[:kept]


def blend_rows(
    parts: Sequence[tuple[float | NDArray[np.floating], NDArray[np.int32], NDArray[np.floating]]],
    n: int,
    exclude: sp.csr_matrix,
) -> Neighbours:
    """blend() for many rows at once: row r of the result is blend() of row r of every part.

    Each part is (weights, indices, scores): indices and scores of one shape (rows x width), -1 in
    unused slots, and weights one number or an array of that shape; `exclude` holds each row's
    items to leave out (a rows x items matrix).
    """
    n_rows, n_items = exclude.shape
    # scipy adds rows whose columns are unsorted in one pass over their entries, each sum made in
    # the parts' order (as blend() adds them up); zero sums are dropped.
    matrices = [_scaled(*part, n_items) for part in parts]
    total = sum(matrices[1:], matrices[0])
    rows, cols, data = entries(total)  # row then column order, as best_of_rows() takes them
    keep = data > 0
    rows, cols, data = rows[keep], cols[keep], data[keep]
    keep = not_owned(rows, cols, exclude)
    table = Neighbours(np.full((n_rows, n), -1, np.int32), np.zeros((n_rows, n), np.float32))
    place(table, *ranked(*best_of_rows(rows[keep], cols[keep], data[keep], n_rows, n), n_rows))
    return table


def _scaled(
    weights: float | NDArray[np.floating],
    indices: NDArray[np.int32],
    scores: NDArray[np.floating],
    n_items: int,
) -> sp.csr_matrix:
    """One part of blend_rows() as a rows x (n_items + 1) matrix, each row scaled as blend() scales
    a list; unused slots go to the extra column n_items with score 0."""
    n_rows, width = indices.shape
    top = scores.max(axis=1, initial=0.0).astype(np.float32)
    factor = np.asarray(weights, np.float32) / np.where(top > 0, top, 1)[:, None]
    unused = (indices < 0) | (top <= 0)[:, None]
    return sp.csr_matrix(
        (
            np.where(unused, 0, scores.astype(np.float32) * factor).ravel(),
            np.where(unused, n_items, indices).ravel(),
            np.arange(0, n_rows * width + 1, width),
        ),
        shape=(n_rows, n_items + 1),
    )
