"""The live catalog: search, read, add or replace, and withdraw products."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, request
from werkzeug.exceptions import BadRequest

from recommender.errors import UnknownProductError
from recommender.storage.catalog_changes import FIELDS, Product, parse_product
from recommender.validation import id_control
from web.auth import require_admin
from web.params import path_id
from web.services import current_model, services

MAX_QUERY_LENGTH = 200
MAX_SEARCH_RESULTS = 100
MAX_QUERY_WORDS = 10  # distinct words of q: each one is a pass over the titles that hold the first

bp = Blueprint("catalog", __name__)


@bp.get("/products")
def search_products() -> dict:
    """Products whose title holds every word of q, best sellers first."""
    q = request.args.get("q", "")
    if len(q) > MAX_QUERY_LENGTH:
        raise BadRequest(f"q is longer than {MAX_QUERY_LENGTH} characters")
    if id_control(q):
        raise BadRequest("q holds a control character (such as NUL); none is allowed")
    if len(set(q.casefold().split())) > MAX_QUERY_WORDS:
        raise BadRequest(f"q has more than {MAX_QUERY_WORDS} distinct words")
    raw = request.args.get("limit", "20")
    # ASCII digits only: str.isdigit() also takes '²', which int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_SEARCH_RESULTS:
        raise BadRequest(f"limit must be an integer from 1 to {MAX_SEARCH_RESULTS}; got {raw!r}")
    live = services().live_catalog(current_model())
    found = [live.product(pid) for pid in live.search(q, int(raw))]
    return {"results": [_listed(p) for p in found if p is not None]}


@bp.put("/products/<path:product_id>")
def put_product(product_id: str) -> tuple[dict, int]:
    """Add or replace a product (admin): stored, then served by every worker within a second."""
    svc = services()
    require_admin(svc.config)
    product_id = path_id(product_id)
    try:
        product = parse_product(product_id, request.get_json(force=True, silent=True))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    live = svc.live_catalog(current_model())
    created = not live.knows(product_id)
    svc.catalog.add(product)
    svc.catalog_news.bump()
    return {
        "status": "created" if created else "replaced",
        "product": _product(product),
    }, 201 if created else 200


@bp.delete("/products/<path:product_id>")
def delete_product(product_id: str) -> dict:
    """Withdraw a product (admin): no answer contains it from the next second on."""
    svc = services()
    require_admin(svc.config)
    product_id = path_id(product_id)
    live = svc.live_catalog(current_model())
    current = live.product(product_id)
    if current is None:
        raise UnknownProductError(product_id)
    record = live.records.get(product_id)  # else its fields stay the CSV's
    svc.catalog.add(replace(record, available=False) if record else Product(product_id, "", available=False))
    svc.catalog_news.bump()
    return {"status": "withdrawn", "product": _product(replace(current, available=False))}


@bp.get("/products/<path:product_id>")
def get_product(product_id: str) -> dict:
    """A product as it is served now."""
    product_id = path_id(product_id)
    product = services().live_catalog(current_model()).product(product_id)
    if product is None:
        raise UnknownProductError(product_id)
    return _product(product)


def _listed(product: Product) -> dict:
    fields = ("product_id", "title", "category", "price", "img_url")
    return {f: getattr(product, f) for f in fields}


def _product(product: Product) -> dict:
    return {"product_id": product.product_id, **{f: getattr(product, f) for f in FIELDS}}
