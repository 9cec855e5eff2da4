"""The catalog in the database: changes made through the API, and the store's products table.

Changes made through the API are stored durably, in order, beside the feedback.

Each change is a product's whole record as it is from then on (a PUT replaces a product), or,
for a product only ever known from the CSV, a withdrawal alone (an empty title: its fields stay
the CSV's). Workers and replicas read the changes
after the last one they applied; a rebuild folds them into the catalog it fits on.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from recommender.data.data_loader import LARGEST_PRICE, Catalog
from recommender.errors import FeedbackUnavailableError
from recommender.storage import schema
from recommender.validation import text_control

log = logging.getLogger(__name__)

FIELDS = ("title", "category", "description", "price", "img_url", "available")
IDS_AT_ONCE = 1_000  # product ids a query about their changes (one IN list)
LIMITS = {"title": 1000, "category": 256, "description": 20_000, "img_url": 2048}


def _record_columns() -> tuple[sa.Column, ...]:
    """A product's record (FIELDS), as the catalog's two tables hold it."""
    return (
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("price", sa.Float, nullable=True),
        sa.Column("img_url", sa.Text, nullable=False),
        sa.Column("available", sa.Boolean, nullable=False),
    )


changes_table = sa.Table(
    "catalog_changes",
    schema.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("product_id", sa.String(256), nullable=False, index=True),
    *_record_columns(),
    sa.Column("changed_at", sa.DateTime, nullable=False),
)

# The store's catalog when it lives in the database (filled by `python -m recommender.ingest
# products`); a store whose catalog is products.csv leaves it empty.
products_table = sa.Table(
    "products",
    schema.metadata,
    sa.Column("product_id", sa.String(256), primary_key=True),
    *_record_columns(),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)


@dataclass(frozen=True)
class Product:
    """A product as the API describes it."""

    product_id: str
    title: str
    category: str = ""
    description: str = ""
    price: float | None = None
    img_url: str = ""
    available: bool = True

    @property
    def availability_only(self) -> bool:
        """A withdrawal (or return) that leaves the product's fields as they were."""
        return not self.title

    def same_text(self, other: Product) -> bool:
        return (self.title, self.category, self.description) == (
            other.title,
            other.category,
            other.description,
        )


def parse_product(product_id: str, body: object) -> Product:
    """A PUT body as a Product; raises ValueError with what is wrong and what is allowed."""
    if not isinstance(body, dict):
        raise ValueError(
            'the body must be a JSON object: {"title", "category"?, "description"?, "price"?, ...}'
        )
    unknown = set(body) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}; allowed: {', '.join(FIELDS)}")
    texts = {}
    for name, limit in LIMITS.items():
        value = body.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string; got {value!r}")
        if len(value) > limit:
            raise ValueError(f"{name} is longer than {limit} characters")
        if text_control(value):
            raise ValueError(
                f"{name} holds a control character (such as NUL); only tabs and line breaks are allowed"
            )
        texts[name] = value.strip()
    if not texts["title"]:
        raise ValueError("title is required: a non-empty string")
    if texts["img_url"] and not texts["img_url"].startswith(("https://", "http://")):
        raise ValueError("img_url must be an http:// or https:// address")
    price = body.get("price")
    if price is not None:
        if (
            isinstance(price, bool)
            or not isinstance(price, int | float)
            or not math.isfinite(price)
            or price < 0
        ):
            raise ValueError(f"price must be a number >= 0 or null; got {price!r}")
        price = float(price)
    available = body.get("available", True)
    if not isinstance(available, bool):
        raise ValueError(f"available must be true or false; got {available!r}")
    return Product(product_id, price=price, available=available, **texts)


class CatalogStore:
    """The `catalog_changes` table of the feedback database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._table_ready = False

    def add(self, product: Product) -> int:
        """Store one change and commit it; its id. Raises FeedbackUnavailableError when it was not stored."""
        now = datetime.now(UTC).replace(tzinfo=None)
        try:
            self._create_table()
            with self.engine.begin() as conn:
                schema.in_id_order(conn, changes_table)
                stored = conn.execute(changes_table.insert().values(**vars(product), changed_at=now))
                _follow_in_products(conn, product, now)
                return int(stored.inserted_primary_key[0])
        except sa.exc.SQLAlchemyError as exc:
            log.error("catalog change not stored: %s", exc)
            raise FeedbackUnavailableError(
                "the catalog store is unavailable; nothing was stored, retry later"
            ) from exc

    def after(self, last_id: int) -> list[tuple[int, Product]]:
        """The changes stored after `last_id`, in order; empty (and logged) when the store cannot be read."""
        c = changes_table.c
        query = sa.select(changes_table).where(c.id > last_id).order_by(c.id)
        try:
            self._create_table()
            with self.engine.connect() as conn:
                rows = conn.execute(query).mappings().all()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("catalog changes unreadable, serving without the latest: %s", exc)
            return []
        fields = ("product_id", "title", "category", "description", "price", "img_url", "available")
        return [(row["id"], Product(**{f: row[f] for f in fields})) for row in rows]

    def last_id(self) -> int:
        self._create_table()
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(changes_table.c.id))).scalar() or 0)

    def _create_table(self) -> None:
        if not self._table_ready:
            schema.ready(self.engine)
            self._table_ready = True


def _follow_in_products(conn: sa.Connection, product: Product, now: datetime) -> None:
    """Make an API change in the products table too, when the store's catalog lives there (the
    table holds products): the table is then the whole current catalog."""
    p = products_table.c
    if conn.execute(sa.select(p.product_id).limit(1)).first() is None:
        return
    if product.availability_only:
        which = p.product_id == product.product_id
        conn.execute(products_table.update().where(which).values(available=product.available, updated_at=now))
        return
    record = vars(product) | {"updated_at": now}
    updated = conn.execute(products_table.update().where(p.product_id == product.product_id).values(record))
    if not updated.rowcount:
        conn.execute(products_table.insert().values(record))


def supersede(conn: sa.Connection, products: list[Product]) -> int:
    """Ingested records of products changed through the API before: each that differs from the
    product's record as changed becomes its latest change, so it is served at once and outlasts
    the older change in the next build (changes lie over the catalog). How many were added."""
    newer = []
    ids = [p.product_id for p in products]
    by_id = {p.product_id: p for p in products}
    for start in range(0, len(ids), IDS_AT_ONCE):
        some = ids[start : start + IDS_AT_ONCE]
        query = (
            sa.select(changes_table).where(changes_table.c.product_id.in_(some)).order_by(changes_table.c.id)
        )
        current: dict[str, Product] = {}
        for row in conn.execute(query).mappings():
            change = Product(row["product_id"], **{f: row[f] for f in FIELDS})
            before = current.get(change.product_id)
            current[change.product_id] = (
                replace(before, available=change.available) if change.availability_only and before else change
            )
        newer += [by_id[pid] for pid, record in current.items() if record != by_id[pid]]
    if newer:
        schema.in_id_order(conn, changes_table)
        now = datetime.now(UTC).replace(tzinfo=None)
        conn.execute(changes_table.insert(), [vars(p) | {"changed_at": now} for p in newer])
    return len(newer)


def latest(changes: list[tuple[int, Product]]) -> dict[str, Product]:
    """Each changed product's record after the last of its changes."""
    return {product.product_id: product for _, product in changes}


def fold(catalog: Catalog, changes: list[tuple[int, Product]]) -> Catalog:
    """The catalog with the changes made part of it: changed rows replaced, new products appended.

    Withdrawn products stay (their history still counts); serving leaves them out.
    """
    records = latest([(i, p) for i, p in changes if not p.availability_only])
    if not records:
        return catalog
    ids, titles = catalog.product_ids.copy(), catalog.titles.copy()
    categories, descriptions = catalog.categories.copy(), catalog.descriptions.copy()
    images = catalog.img_urls.copy() if len(catalog.img_urls) else np.full(len(ids), "", dtype=object)
    prices = catalog.prices.copy() if len(catalog.prices) else np.full(len(ids), np.nan, np.float32)
    added = [p for pid, p in records.items() if pid not in catalog.index]
    for pid, product in records.items():
        row = catalog.index.get(pid)
        if row is not None:
            titles[row], categories[row], descriptions[row] = (
                product.title,
                product.category,
                product.description,
            )
            prices[row] = _price(product)
            images[row] = product.img_url

    def column(values: np.ndarray, new: list) -> np.ndarray:
        return np.concatenate([values, np.array(new, dtype=values.dtype)])

    ids = column(ids, [p.product_id for p in added])
    return replace(
        catalog,
        product_ids=ids,
        titles=column(titles, [p.title for p in added]),
        categories=column(categories, [p.category for p in added]),
        descriptions=column(descriptions, [p.description for p in added]),
        prices=column(prices, [_price(p) for p in added]),
        img_urls=column(images, [p.img_url for p in added]),
        index={pid: i for i, pid in enumerate(ids)},
    )


def _price(product: Product) -> float:
    """As the CSV loader reads prices: unknown (NaN) unless above 0 and at most LARGEST_PRICE."""
    price = product.price
    return price if price is not None and 0 < price <= LARGEST_PRICE else np.nan
