"""Shared test data and helpers: the tiny store with known answers."""

from __future__ import annotations

import contextlib
import os
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# The tiny store. Mugs and coffee beans sell together (U1..U3 buy both); the knife and the tea
# sell together (U4); U5 has only a red mug, so the beans are U5's obvious next item. P6 (a trowel)
# has no interactions yet; P7 has a title only.
PRODUCTS = """\
product_id,title,category,description,price,img_url
P1,Red Ceramic Mug,Kitchen,A red ceramic mug for coffee,8.5,
P2,Blue Ceramic Mug,Kitchen,A blue ceramic mug for tea,8.5,
P3,Steel Chef Knife,Kitchen,Sharp stainless steel knife,30,
P4,Espresso Coffee Beans,Coffee,Dark roast arabica beans,12,
P5,Green Tea Leaves,Coffee,Loose leaf green tea,6,
P6,Garden Trowel,Garden,Steel trowel for planting,9,
P7,Gift Card,,,25,
"""
INTERACTIONS = """\
user_id,product_id,interaction_type,ts
U1,P1,purchase,2024-01-01T10:00:00
U1,P4,purchase,2024-01-01T10:05:00
U2,P1,view,2024-01-02T10:00:00
U2,P1,purchase,2024-01-02T10:01:00
U2,P4,purchase,2024-01-02T10:02:00
U3,P4,add_to_cart,2024-01-03T09:00:00
U3,P1,purchase,2024-01-03T09:01:00
U3,P4,purchase,2024-01-03T09:02:00
U4,P3,purchase,2024-01-04T12:00:00
U4,P5,purchase,2024-01-04T12:03:00
U5,P1,purchase,2024-01-05T08:00:00
U6,P2,view,2024-01-06T08:00:00
U6,P3,view,2024-01-07T08:00:00
"""

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") not in ("", "0", "false")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
TEST_POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A schema of its own in the machine's PostgreSQL, dropped afterwards; its URL selects it."""
    import sqlalchemy as sa

    engine = sa.create_engine(TEST_POSTGRES_URL)
    schema = f"test_{uuid.uuid4().hex[:10]}"
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        service_missing(f"no PostgreSQL at {TEST_POSTGRES_URL} ({type(exc).__name__})")
    try:
        yield f"{TEST_POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def extended(store: tuple[Path, Path], rows: str) -> tuple[Path, Path]:
    """The tiny store with more interaction rows (a period after a cutoff) appended."""
    products, interactions = store
    interactions.write_text(interactions.read_text() + rows)
    return products, interactions


def service_missing(reason: str) -> None:
    """Skip with a visible reason, or fail where CI requires every service (REQUIRE_SERVICES=1)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES is set but {reason}")
    pytest.skip(reason)


def synthetic_store(
    folder: Path, users: int = 400, products: int = 60, days: int = 150, seed: int = 0
) -> tuple[Path, Path]:
    """A store big and long enough for the ranker to train on: products in four categories,
    each user keeps to one category and buys a few products a month, the popular ones more.
    Every tenth product is launched in the last 20 days; the last four were never sold."""
    import numpy as np

    rng = np.random.default_rng(seed)
    categories = ["Kitchen", "Garden", "Toys", "Books"]
    rows = ["product_id,title,category,description,price,img_url"]
    for p in range(products):
        category = categories[p % 4]
        rows.append(f"S{p},{category} item {p} {category.lower()} thing,{category},,{5 + p % 7},")
    catalog = "\n".join(rows) + "\n"
    log = ["user_id,product_id,interaction_type,ts"]
    start = np.datetime64("2024-01-01T00:00:00")
    launched = (days - 20) * 24
    for u in range(users):
        mine = np.arange(u % 4, products - 4, 4)
        weights = 1.0 / (1 + np.arange(len(mine)))
        for _ in range(rng.integers(3, 12)):
            item = rng.choice(mine, p=weights / weights.sum())
            hours = int(rng.integers(launched if item % 10 == 9 else 0, days * 24))
            when = start + np.timedelta64(hours, "h")
            log.append(f"V{u},S{item},purchase,{str(when)}")
    return write(folder / "products.csv", catalog), write(folder / "interactions.csv", "\n".join(log) + "\n")
