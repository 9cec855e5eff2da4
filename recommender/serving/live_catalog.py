"""The catalog as the API changed it since the model was built, laid over the model's own.

- A withdrawn product is left out of every answer (its history still counts in the models).
- A product added, or whose title, category or description changed, gets a text vector in the
  model's TF-IDF space: its own neighbours come from it, and it takes its place among the
  neighbours of the products most like it.
- Titles, categories and prices are served as changed, at once.
A rebuild folds the changes into the model (see catalog_changes.fold); those up to the model's
`catalog_last_id` are then only read for availability.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from recommender.data.data_loader import Catalog
from recommender.models.content_based import TextSpace
from recommender.models.popularity import Popularity
from recommender.storage.catalog_changes import Product

NEIGHBOURS = 100  # text neighbours kept for each product placed by its text
CATEGORY_ORDERS = 256  # best-seller orders and masks kept for category sets asked for (oldest goes first)
BEST_SELLERS_READ = 32  # best sellers named at once when a filtered answer is refilled from them


class LiveCatalog:
    """Changes applied in id order; `last_id` is the last one, so a worker asks only for newer.

    `version` is the id of the last change: it is part of every cache key, so no cached answer
    outlives a change (of availability, text, price or image).
    """

    def __init__(
        self, catalog: Catalog, text: TextSpace | None, popularity: Popularity, folded_id: int = 0
    ) -> None:
        self.catalog, self.text, self.popularity = catalog, text, popularity
        self.folded_id = folded_id  # changes up to this one are in the model already
        self.last_id = 0
        self.synced = False
        self.version = 0
        self.records: dict[str, Product] = {}  # each changed product's current record
        self.added: list[str] = []  # products the model does not have, in order of arrival
        self.withdrawn: set[str] = set()
        self.vectors: dict[str, sp.csr_matrix] = {}  # products whose text is newer than the model's
        self.neighbours: dict[str, dict[str, float]] = {}  # theirs: product id -> similarity
        self.joining: dict[int, dict[str, float]] = {}  # a model product's neighbours among them
        self._categories: tuple[np.ndarray, dict[str, int]] | None = None
        self._names: list[str] | None = None
        self._best: dict[frozenset[str], np.ndarray] = {}
        self._chosen: dict[frozenset[str], np.ndarray] = {}
        self._titles: tuple[str, list[int]] | None = None
        self._rank: np.ndarray | None = None

    # --- changes ----------------------------------------------------------------------------

    def apply(self, changes: Iterable[tuple[int, Product]]) -> None:
        for change_id, product in changes:
            self.last_id = max(self.last_id, change_id)
            pid = product.product_id
            if product.available:
                self.withdrawn.discard(pid)
            else:
                self.withdrawn.add(pid)
            new_text = False
            if not product.availability_only:
                before = self.records.get(pid)
                self.records[pid] = product
                if pid not in self.catalog.index and before is None:
                    self.added.append(pid)
                new_text = change_id > self.folded_id and (before is None or not before.same_text(product))
                if new_text:
                    self._place(product)
            self.version = change_id
            self._best.clear()

    def _place(self, product: Product) -> None:
        """Embed the product's text and link it with its nearest products, both ways."""
        pid = product.product_id
        for others in self.joining.values():  # its old links go
            others.pop(pid, None)
        for others in self.neighbours.values():
            others.pop(pid, None)
        if self.text is None:
            self.neighbours[pid] = {}
            return
        vector = self.text.embed(product.title, product.category, product.description)
        similarity = self.text.similarities(vector)
        ids = self.catalog.product_ids
        for other in [pid, *self.vectors]:  # their model vectors are out of date
            row = self.catalog.index.get(other)
            if row is not None:
                similarity[row] = 0.0
        count = min(NEIGHBOURS, len(similarity))
        top = np.argpartition(-similarity, count - 1)[:count] if count else np.empty(0, np.int64)
        top = top[similarity[top] > 0]
        links = {ids[row]: float(similarity[row]) for row in top.tolist()}
        for row in top.tolist():
            self.joining.setdefault(row, {})[pid] = float(similarity[row])
        for other, other_vector in self.vectors.items():
            if other != pid:
                score = float(vector.multiply(other_vector).sum())
                if score > 0:
                    links[other] = score
                    self.neighbours[other][pid] = score
        self.vectors[pid] = vector
        self.neighbours[pid] = links

    # --- what the routes ask ----------------------------------------------------------------

    @property
    def unchanged(self) -> bool:
        """Nothing to change in the model's answers: no product changed, added or withdrawn."""
        return not self.records and not self.withdrawn

    def knows(self, product_id: str) -> bool:
        return product_id in self.catalog.index or product_id in self.records

    def is_added(self, product_id: str) -> bool:
        """A product the model does not have (added through the API since the build)."""
        return product_id not in self.catalog.index and product_id in self.records

    def product(self, product_id: str) -> Product | None:
        """The product as it is served now (a model product's description and image are not kept)."""
        available = product_id not in self.withdrawn
        record = self.records.get(product_id)
        if record is not None:
            return replace(record, available=available)
        row = self.catalog.index.get(product_id)
        if row is None:
            return None
        # Prices are kept as float32: str() gives the shortest decimal that is the same float32 (5.33,
        # not 5.329999923706055).
        price = float(str(self.catalog.prices[row])) if len(self.catalog.prices) else float("nan")
        return Product(
            product_id,
            str(self.catalog.titles[row]),
            str(self.catalog.categories[row]),
            price=price if np.isfinite(price) else None,
            img_url=str(self.catalog.img_urls[row]) if len(self.catalog.img_urls) else "",
            available=available,
        )

    def price_of(self, product_id: str) -> float | None:
        """The product's price as served now; None when unknown."""
        product = self.product(product_id)
        return product.price if product is not None else None

    @property
    def has_prices(self) -> bool:
        prices = self.catalog.prices
        known = bool(len(prices)) and bool(np.isfinite(prices).any())
        return known or any(r.price is not None for r in self.records.values())

    def is_new(self, product_id: str) -> bool:
        """Nobody has interacted with it in the model's log (added since, or never sold)."""
        row = self.catalog.index.get(product_id)
        return row is None or bool(self.popularity.scores[row] == 0)

    def title(self, product_id: str) -> str:
        record = self.records.get(product_id)
        return record.title if record is not None else self.catalog.titles[self.catalog.index[product_id]]

    def similar(self, product_id: str) -> list[tuple[str, float]]:
        """The text neighbours of a product placed by its text, best first."""
        links = self.neighbours.get(product_id, {})
        return sorted(((p, s) for p, s in links.items() if p != product_id), key=lambda x: -x[1])

    def joined(self, product_id: str) -> dict[str, float]:
        """Products placed by their text that are among the neighbours of a model product."""
        row = self.catalog.index.get(product_id)
        return self.joining.get(row, {}) if row is not None else {}

    def nearest_new(self, items: Iterable[int]) -> list[tuple[str, float]]:
        """Added products by their best similarity to any of `items` (model rows), best first."""
        best: dict[str, float] = {}
        for row in items:
            for pid, score in self.joining.get(row, {}).items():
                if pid in self.records and pid not in self.catalog.index and score > best.get(pid, 0.0):
                    best[pid] = score
        return sorted(best.items(), key=lambda x: -x[1])

    def category_codes(self, names: Iterable[str]) -> frozenset[int]:
        """The codes of categories named (any case); unknown names match nothing."""
        _, codes = self._category_table()
        return frozenset(codes[n] for n in (name.casefold() for name in names) if n in codes)

    def in_categories(self, product_id: str, wanted: frozenset[str]) -> bool:
        """Whether the product's current category is one of `wanted` (casefolded names)."""
        record = self.records.get(product_id)
        if record is not None:
            return record.category.casefold() in wanted
        row = self.catalog.index.get(product_id)
        return row is not None and self._row_categories()[row] in wanted

    def category_test(self, wanted: frozenset[str]) -> Callable[[str], bool]:
        """in_categories(pid, wanted) as a function of pid, for checking many products at once:
        while no product has changed, every product is in its category as built (a list lookup)."""
        if self.records:
            return lambda pid: self.in_categories(pid, wanted)
        index, names = self.catalog.index, self._row_categories()
        return lambda pid: (row := index.get(pid)) is not None and names[row] in wanted

    def rows_in_categories(self, rows: np.ndarray, wanted: frozenset[str]) -> np.ndarray | None:
        """A mask of the model rows whose product is in one of the categories (casefolded names),
        while every product is in its category as built; None once one has changed (then
        in_categories() says, product by product)."""
        if self.records:
            return None
        table, codes = self._category_table()
        chosen = self._chosen.get(wanted)  # which codes are wanted
        if chosen is None:
            chosen = np.zeros(len(codes), bool)
            chosen[list(self.category_codes(wanted))] = True
            if len(self._chosen) >= CATEGORY_ORDERS:
                del self._chosen[next(iter(self._chosen))]
            self._chosen[wanted] = chosen
        return chosen[table[rows]]

    def best_sellers(self, wanted: frozenset[str]) -> Iterator[str]:
        """Product ids by sales, best first, within the categories (all when empty); then added ones."""
        order = self._best_in(wanted)
        ids = self.catalog.product_ids
        for start in range(0, len(order), BEST_SELLERS_READ):  # a caller usually needs a few
            for pid in ids[order[start : start + BEST_SELLERS_READ]].tolist():
                if not wanted or pid not in self.records or self.in_categories(pid, wanted):
                    yield pid
        for pid in self.records:  # moved into the categories since the build, or added
            if wanted and pid in self.catalog.index and self.in_categories(pid, wanted):
                row = self.catalog.index[pid]
                if str(self.catalog.categories[row]).casefold() not in wanted:
                    yield pid
        yield from (p for p in self.added if not wanted or self.in_categories(p, wanted))

    def share(self, wanted: frozenset[str]) -> float:
        """The share of the model's products in the categories (all when empty), as built."""
        total = len(self.popularity.order)
        return len(self._best_in(wanted)) / total if total else 0.0

    def _best_in(self, wanted: frozenset[str]) -> np.ndarray:
        """The model's products in the categories (all when empty), best sellers first, as built
        (kept for the CATEGORY_ORDERS category sets asked for last)."""
        if not wanted:
            return self.popularity.order
        order = self._best.get(wanted)
        if order is None:
            table, _ = self._category_table()
            codes = list(self.category_codes(wanted))
            order = self.popularity.order[np.isin(table[self.popularity.order], codes)]
            if len(self._best) >= CATEGORY_ORDERS:
                del self._best[next(iter(self._best))]
            self._best[wanted] = order
        return order

    def search(self, query: str, limit: int) -> list[str]:
        """Products whose title holds every word of `query` (any case), best sellers first;
        withdrawn products left out. An empty query gives the best sellers."""
        # Longest first: the titles holding the first word are the ones checked for the others.
        words = sorted(set(query.casefold().split()), key=len, reverse=True)
        if not words:
            return list(
                itertools.islice(
                    (p for p in self.best_sellers(frozenset()) if p not in self.withdrawn), limit
                )
            )
        text, starts = self._title_text()
        rows: set[int] = set()
        at = text.find(words[0])
        while at >= 0:  # every title holding the first word, in one scan of the joined titles
            row = bisect.bisect_right(starts, at) - 1
            rows.add(row)
            at = text.find(words[0], starts[row + 1])
        ids = self.catalog.product_ids
        found = [
            ids[row]
            for row in rows
            if ids[row] not in self.records
            and all(w in text[starts[row] : starts[row + 1] - 1] for w in words)
        ]
        found += [p for p, r in self.records.items() if all(w in r.title.casefold() for w in words)]
        rank = self._sales_rank()
        found = [p for p in found if p not in self.withdrawn]
        found.sort(key=lambda p: rank[self.catalog.index[p]] if p in self.catalog.index else len(rank))
        return found[:limit]

    def _title_text(self) -> tuple[str, list[int]]:
        """Every model product's title, casefolded, one per line, and where each starts (made once)."""
        if self._titles is None:
            titles = [str(t).casefold().replace("\n", " ") for t in self.catalog.titles]
            starts = [0]
            for title in titles:
                starts.append(starts[-1] + len(title) + 1)
            self._titles = ("\n".join(titles) + "\n", starts)
        return self._titles

    def _sales_rank(self) -> np.ndarray:
        if self._rank is None:
            rank = np.empty(len(self.popularity.order), np.int64)
            rank[self.popularity.order] = np.arange(len(rank))
            self._rank = rank
        return self._rank

    def _category_table(self) -> tuple[np.ndarray, dict[str, int]]:
        """Each model product's category as a code, and the codes by casefolded name (made once)."""
        if self._categories is None:
            names = self._row_categories()
            codes: dict[str, int] = {}
            table = np.fromiter((codes.setdefault(n, len(codes)) for n in names), np.int32, len(names))
            self._categories = (table, codes)
        return self._categories

    def _row_categories(self) -> list[str]:
        """Each model product's category, casefolded, by row (made once; each name held once): a
        filter checks a candidate with a list lookup, not a string conversion and a casefold."""
        if self._names is None:
            held: dict[str, str] = {}
            names = (str(c).casefold() for c in self.catalog.categories)
            self._names = [held.setdefault(n, n) for n in names]
        return self._names
