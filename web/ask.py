"""One recommendation request as its view sees it: the query's parameters checked, the answer shelved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from recommender.errors import UnknownProductError
from recommender.serving.live_catalog import LiveCatalog
from recommender.serving.service import Recommendation, Recommender
from recommender.serving.shelf import Answer, Filter, Request, shelve
from recommender.storage.catalog_changes import Product
from web.declare import Param, choice, identifier, integer, listed
from web.services import Services

# The strategies an added product can reach users through, by its text.
NEW_PRODUCT_STRATEGIES = ("content", "hybrid", "ranked")

# The parameters the recommendation routes share (see declare.py).
TOP_K = integer(
    "top_k", lambda config: f"how many results, 1 to {config.max_top_k}", lambda c: c.max_top_k, 10
)
USER_ID = identifier("user_id", "the user")
PRODUCT_ID = identifier("product_id", "the product")
CATEGORY = listed(
    "category",
    "comma-separated categories (any case): results only from them; the list is refilled "
    "from deeper in the answer, then from best sellers within them",
)
EXCLUDE = listed("exclude", "comma-separated product ids never returned (at most 500)")
DETAILS = choice(
    "details",
    "1: each result also carries category, price, img_url and new (no interaction yet)",
    ("0", "1", "true", "false"),
    check=False,
)
FILTERS = (CATEGORY, EXCLUDE, DETAILS)


@dataclass(frozen=True, slots=True)
class Ask:
    """The request's services, model, query and live catalog, looked up once (each lookup through
    Flask's context proxies costs about a microsecond, and a request would make twenty)."""

    svc: Services
    model: Recommender
    args: Mapping[str, str]  # a request's args, or each query parameter's first value
    live: LiveCatalog
    variant: str | None = None  # the user's A/B variant, on the A/B route

    def arg(self, name: str) -> str | None:
        """The query parameter, or None (MultiDict.get raises and catches an exception when it is absent)."""
        return self.args[name] if name in self.args else None

    def value(self, param: Param) -> Any:
        """The query parameter as its declaration checks it (400 with its message otherwise)."""
        return param.parse(self.arg(param.name), self.svc.config)

    def top_k(self) -> int:
        return self.value(TOP_K)

    def product(self, product_id: str | None) -> str | None:
        """The product asked about, if the catalog (as it is now) has it; else 404."""
        if product_id is not None and not self.live.knows(product_id):
            raise UnknownProductError(product_id)
        return product_id

    def filter(self) -> Filter:
        """category= and exclude=: comma-separated lists."""
        config = self.svc.config
        categories = CATEGORY.parse(self.arg("category"), config)
        return Filter(
            frozenset(c.casefold() for c in categories), frozenset(EXCLUDE.parse(self.arg("exclude"), config))
        )

    def shelve(
        self,
        answer: Answer,
        product_id: str | None = None,
        user_id: str | None = None,
        textual: bool = False,
        new_products: bool = False,
    ) -> dict:
        """The answer with the catalog as it is now and the request's filters (see shelf.py)."""
        args = self.args
        if self.live.unchanged and "category" not in args and "exclude" not in args and "details" not in args:
            return results(self.model.recommendations(answer(self.top_k(), self.product(product_id))))
        request = Request(
            answer,
            self.top_k(),
            self.filter(),
            self.product(product_id),
            textual=textual,
            user_items=(lambda: self.model.items_of(user_id).tolist()) if user_id is not None else None,
            user_added=self.model.feedback.others.get(user_id, ()) if user_id is not None else (),
            new_products=new_products and user_id is not None,
            deep=self.model.settings.neighbours,
        )
        found = shelve(self.live, self.model, request)
        if self.value(DETAILS) in ("1", "true"):  # what a page shows beside each title
            return {"results": [self._detailed(r) for r in found]}
        return results(found)

    def _detailed(self, found: Recommendation) -> dict:
        product = self.live.product(found.product_id) or Product(found.product_id, found.title)
        return {
            "product_id": found.product_id,
            "title": found.title,
            "score": found.score,
            "category": product.category,
            "price": product.price,
            "img_url": product.img_url,
            "new": self.live.is_new(found.product_id),
        }


def results(recommendations: list[Recommendation]) -> dict:
    # orjson writes each Recommendation as {"product_id", "title", "score"}.
    return {"results": recommendations}
