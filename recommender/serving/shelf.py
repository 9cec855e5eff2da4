"""What a shopper is shown: a strategy's answer with the catalog as it is now and the request's
filters applied.

Withdrawn products, `exclude=` products and products outside `category=` leave the list; it is
refilled from deeper in the same answer, then from the best sellers within the filter (at score
0 or below). Products placed by their text since the build join text answers by similarity, and
an added product whose text is close to a user's items takes one early place in that user's
personal answers (hybrid, ranked). Titles are served as they are now.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from recommender.models.hybrid import Scored
from recommender.serving.live_catalog import LiveCatalog
from recommender.serving.model import FittedModel, Recommendation

# An added product reaches a user when its text is at least this close (cosine of TF-IDF
# vectors) to one of the user's items; it then takes this place (0-based) in their list.
NEW_PRODUCT_SIMILARITY = 0.3
NEW_PRODUCT_PLACE = 2

Answer = Callable[[int, "str | None"], Scored]


@dataclass(frozen=True)
class Filter:
    """Per-request filters: `categories` casefolded (empty: any), `exclude` product ids."""

    categories: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.categories or self.exclude)


@dataclass
class Request:
    """One answer to put on the shelf."""

    answer: Answer  # the strategy: (how many, product context) -> its rows and scores
    k: int
    want: Filter = field(default_factory=Filter)
    product_id: str | None = None  # the product asked about: never shown
    textual: bool = False  # the answer is the product's text neighbours
    user_items: Callable[[], Collection[int]] | None = None  # for personal answers: the user's rows
    user_added: Collection[str] = ()  # and the products added since the build that the user has
    new_products: bool = False  # an added product close to the user's items may take a place
    deep: int = 100  # how far into the answer to look when the first k are not enough


def shelve(live: LiveCatalog, model: FittedModel, request: Request) -> list[Recommendation]:
    """The request's answer (from `model`, over `live`) as shown: filtered, refilled, named."""
    r = request
    if live.unchanged and not r.want:  # nothing changed since the build, nothing filtered
        return model.recommendations(r.answer(r.k, r.product_id))
    owned: set[str] | None = None

    def owned_ids() -> set[str]:
        nonlocal owned
        if owned is None:
            rows = r.user_items() if r.user_items is not None else ()
            owned = set(model.product_ids(rows)) | set(r.user_added)
        return owned

    allowed = _Allowed(live, r)
    depth = _first_depth(live, r)
    chosen = _candidates(live, model, r, depth, allowed)[: r.k]
    if len(chosen) < r.k and depth < max(r.deep, r.k):
        chosen = _candidates(live, model, r, max(r.deep, r.k), allowed)[: r.k]
    if len(chosen) < r.k:  # best sellers within the filter, never the user's own items
        taken = {pid for pid, _ in chosen}
        floor = min(chosen[-1][1], 0.0) if chosen else 0.0
        for pid in live.best_sellers(r.want.categories):
            if len(chosen) == r.k:
                break
            if pid not in taken and allowed(pid) and pid not in owned_ids():
                chosen.append((pid, floor))
                taken.add(pid)
    if r.new_products and live.added and r.user_items is not None and r.k > 0:
        _offer_new(live, chosen, r, allowed, owned_ids())
    return [Recommendation(pid, live.title(pid), score) for pid, score in chosen]


class _Allowed:
    """Whether a product may be shown for this request (made once per request): a check of one
    product, or of a whole answer at once (`among`). A filtered answer checks up to `deep`
    candidates, so `among` checks their categories on the rows of the catalog first, and names
    and checks only the products in them."""

    def __init__(self, live: LiveCatalog, r: Request) -> None:
        self.live = live
        self.product, self.withdrawn, self.exclude, self.added = (
            r.product_id,
            live.withdrawn,
            r.want.exclude,
            r.user_added,
        )
        self.wanted = r.want.categories
        self.in_categories = live.category_test(self.wanted) if self.wanted else None

    def __call__(self, pid: str) -> bool:
        return self.not_left_out(pid) and (self.in_categories is None or self.in_categories(pid))

    def not_left_out(self, pid: str) -> bool:
        """Not the product asked about, withdrawn, excluded or one the user added: the checks
        besides the categories."""
        return (
            pid != self.product
            and pid not in self.withdrawn
            and pid not in self.exclude
            and pid not in self.added
        )

    def among(self, model: FittedModel, answer: Scored) -> list[tuple[str, float]]:
        """The answer's allowed products as (product id, score), in order."""
        check = self
        if self.wanted:  # the rows outside the categories leave before any is named
            items, scores = answer
            inside = self.live.rows_in_categories(items, self.wanted)
            if inside is not None:  # None: a product changed since the build; each is checked below
                answer, check = (items[inside], scores[inside]), self.not_left_out
        return [(pid, score) for pid, score in model.named(answer) if check(pid)]


def _first_depth(live: LiveCatalog, r: Request) -> int:
    """How far into the answer to read first: k when nothing can leave it, else enough for about
    2k to pass the filters (the share of the products in the categories says how many will), and
    never past `deep`, where the second reading goes."""
    if not (r.want or live.withdrawn):
        return r.k
    share = live.share(r.want.categories) if r.want.categories else 1.0
    enough = math.ceil(2 * r.k / share) if share > 0 else r.deep
    return min(max(r.deep, r.k), enough + len(r.want.exclude))


def _candidates(
    live: LiveCatalog, model: FittedModel, r: Request, n: int, allowed: _Allowed
) -> list[tuple[str, float]]:
    """Those of the answer's first n that are allowed, as (product id, score), best first."""
    context = r.product_id
    if context is not None and live.is_added(context) and not r.textual:
        context = None  # the models do not know it: answer as without a product
    if r.textual and context is not None and (live.is_added(context) or context in live.vectors):
        found = live.similar(context)[:n]  # only its text places it, or its text changed
    else:
        answer = r.answer(n, context)
        joined = live.joined(context) if r.textual and context is not None else {}
        if not joined:  # the usual case: checked before they are named
            return allowed.among(model, answer)
        scores = dict(model.named(answer)) | joined
        found = sorted(scores.items(), key=lambda x: -x[1])[:n]
    return [c for c in found if allowed(c[0])]


def _offer_new(
    live: LiveCatalog,
    chosen: list[tuple[str, float]],
    r: Request,
    allowed: _Allowed,
    owned: set[str],
) -> None:
    """Put the added product closest to the user's items at NEW_PRODUCT_PLACE, if close enough."""
    taken = {pid for pid, _ in chosen}
    for pid, similarity in live.nearest_new(r.user_items()):  # type: ignore[misc]
        if similarity < NEW_PRODUCT_SIMILARITY:
            return
        if pid in taken or pid in owned or not allowed(pid):
            continue
        place = min(NEW_PRODUCT_PLACE, len(chosen))
        score = chosen[place][1] if place < len(chosen) else (chosen[-1][1] if chosen else similarity)
        chosen.insert(place, (pid, score))
        del chosen[r.k :]
        return
