"""The live catalog: search, read, add or replace, and withdraw products."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, request
from werkzeug.exceptions import BadRequest

from recommender.errors import UnknownProductError
from recommender.storage.catalog_changes import FIELDS, Product, parse_product
from web.auth import require_admin
from web.declare import answer, error, in_path, integer, route, words
from web.services import current_model, services

bp = Blueprint("catalog", __name__)

# q's words: each one is a pass over the titles that hold the first.
QUERY = words("q", "words of the title", max_length=200, max_words=10)
LIMIT = integer("limit", "how many, 1 to 100", maximum=100, default=20)
PRODUCT = in_path("product_id", "the product")


@route(
    bp,
    "GET",
    "/products",
    summary="Search the catalog: products whose title holds every word of q (any case), best "
    "sellers first; withdrawn products left out; an empty q gives the best sellers",
    params=(QUERY, LIMIT),
    responses={"200": answer("Matching products", "ProductList")},
)
def search_products() -> dict:
    """Products whose title holds every word of q, best sellers first."""
    svc = services()
    q = QUERY.parse(request.args.get("q"), svc.config)
    limit = LIMIT.parse(request.args.get("limit"), svc.config)
    live = svc.live_catalog(current_model())
    found = [live.product(pid) for pid in live.search(q, limit)]
    return {"results": [_listed(p) for p in found if p is not None]}


@route(
    bp,
    "GET",
    "/products/<path:product_id>",
    summary="The product as it is served now (fields changed through this API included)",
    params=(PRODUCT,),
    responses={"200": answer("The product", "Product"), "404": error("Unknown product")},
)
def get_product(product_id: str) -> dict:
    """A product as it is served now."""
    svc = services()
    product_id = PRODUCT.parse(product_id, svc.config)
    product = svc.live_catalog(current_model()).product(product_id)
    if product is None:
        raise UnknownProductError(product_id)
    return _product(product)


@route(
    bp,
    "PUT",
    "/products/<path:product_id>",
    summary="Add or replace a product (admin): stored durably, then served by every worker and "
    "replica within a second; its text places it among similar products",
    params=(PRODUCT,),
    body="ProductBody",
    responses={
        "200": answer("Replaced", "ProductChange"),
        "201": answer("Added", "ProductChange"),
        "401": error("Missing or wrong admin token"),
        "404": error("ADMIN_TOKEN is not set: the catalog routes do not exist"),
        "503": error("The database is unavailable: nothing was stored, retry"),
    },
    security=("admin",),
)
def put_product(product_id: str) -> tuple[dict, int]:
    """Add or replace a product (admin): stored, then served by every worker within a second."""
    svc = services()
    require_admin(svc.config)
    product_id = PRODUCT.parse(product_id, svc.config)
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


@route(
    bp,
    "DELETE",
    "/products/<path:product_id>",
    summary="Withdraw a product (admin): no answer contains it from the next second on; its "
    "history still counts. A PUT with available true brings it back",
    params=(PRODUCT,),
    responses={
        "200": answer("Withdrawn", "ProductChange"),
        "401": error("Missing or wrong admin token"),
        "404": error("Unknown product, or ADMIN_TOKEN is not set"),
        "503": error("The database is unavailable: nothing was stored, retry"),
    },
    security=("admin",),
)
def delete_product(product_id: str) -> dict:
    """Withdraw a product (admin): no answer contains it from the next second on."""
    svc = services()
    require_admin(svc.config)
    product_id = PRODUCT.parse(product_id, svc.config)
    live = svc.live_catalog(current_model())
    current = live.product(product_id)
    if current is None:
        raise UnknownProductError(product_id)
    record = live.records.get(product_id)  # else its fields stay the CSV's
    svc.catalog.add(replace(record, available=False) if record else Product(product_id, "", available=False))
    svc.catalog_news.bump()
    return {"status": "withdrawn", "product": _product(replace(current, available=False))}


def _listed(product: Product) -> dict:
    fields = ("product_id", "title", "category", "price", "img_url")
    return {f: getattr(product, f) for f in fields}


def _product(product: Product) -> dict:
    return {"product_id": product.product_id, **{f: getattr(product, f) for f in FIELDS}}
