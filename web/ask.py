"""One recommendation request as its view sees it: the query's parameters checked, the answer shelved."""

from __future__ import annotations

import math
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from recommender.errors import UnknownProductError
from recommender.serving.live_catalog import LiveCatalog
from recommender.serving.service import Recommendation, Recommender
from recommender.serving.shelf import Answer, Filter, Request, shelve
from recommender.storage.catalog_changes import Product
from recommender.validation import id_control
from web.params import MAX_FILTER_VALUES, MAX_ID_LENGTH, checked_id
from web.services import Services

# The strategies an added product can reach users through, by its text.
NEW_PRODUCT_STRATEGIES = ("content", "hybrid", "ranked")


@dataclass(frozen=True, slots=True)
class Ask:
    """The request's services, model, query and live catalog, looked up once (each lookup through
    Flask's context proxies costs about a microsecond, and a request would make twenty)."""

    svc: Services
    model: Recommender
    args: MultiDict[str, str]
    live: LiveCatalog
    variant: str | None = None  # the user's A/B variant, on the A/B route

    def arg(self, name: str) -> str | None:
        """The query parameter, or None (MultiDict.get raises and catches an exception when it is absent)."""
        return self.args[name] if name in self.args else None

    def top_k(self) -> int:
        limit = self.svc.config.max_top_k
        raw = self.arg("top_k")
        if raw is None:
            return min(10, limit)
        try:
            value = int(raw)
        except ValueError:
            raise BadRequest(f"top_k must be an integer from 1 to {limit}; got {raw!r}") from None
        if not 1 <= value <= limit:
            raise BadRequest(f"top_k must be from 1 to {limit}; got {value}")
        return value

    def weight(self, name: str, default: float) -> float:
        raw = self.arg(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise BadRequest(f"{name} must be a number >= 0; got {raw!r}") from None
        if not math.isfinite(value) or value < 0:
            raise BadRequest(f"{name} must be a finite number >= 0; got {raw!r}")
        return value

    def id(self, name: str) -> str | None:
        return checked_id(name, self.arg(name) or "") or None

    def product(self, product_id: str | None) -> str | None:
        """The product asked about, if the catalog (as it is now) has it; else 404."""
        if product_id is not None and not self.live.knows(product_id):
            raise UnknownProductError(product_id)
        return product_id

    def filter(self) -> Filter:
        """category= and exclude=: comma-separated lists."""
        return Filter(
            frozenset(c.casefold() for c in self._values("category")), frozenset(self._values("exclude"))
        )

    def _values(self, name: str) -> list[str]:
        raw = self.arg(name)
        if not raw:
            return []
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if len(values) > MAX_FILTER_VALUES or any(len(v) > MAX_ID_LENGTH for v in values):
            raise BadRequest(
                f"{name} takes at most {MAX_FILTER_VALUES} comma-separated values "
                f"of at most {MAX_ID_LENGTH} characters each"
            )
        if id_control(raw):
            raise BadRequest(f"{name} holds a control character (such as NUL); none is allowed")
        return values

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
            return results(answer(self.top_k(), self.product(product_id)))  # nothing to apply
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
        found = shelve(self.live, request)
        if self.arg("details") in ("1", "true"):  # what a page shows beside each title
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
