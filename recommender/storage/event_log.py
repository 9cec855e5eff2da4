"""The store's event log in the database (table `interactions`), and ingestion's bulk writes into it
and into the products table (catalog_changes.products_table).

Rows arrive in batches (ingestion); each batch is one transaction, so a job killed part-way leaves
whole batches stored. The table holds an event once, by its event_id where it has one, otherwise
by its content (two unique indexes): storing the same rows again stores nothing new. On
PostgreSQL a batch goes through COPY into a temporary table, then into the table in one statement;
on SQLite through one prepared insert run over the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from recommender.storage import schema
from recommender.storage.catalog_changes import supersede

if TYPE_CHECKING:
    import sqlite3

    import psycopg

    from recommender.data.event_files import Interaction
    from recommender.storage.catalog_changes import Product


def _where(condition: str) -> dict[str, sa.TextClause]:
    """A partial index's condition, on both databases."""
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


INGESTED = "ingest"  # the source of rows stored by ingestion
POSTED = "feedback"  # the source of events posted to /feedback

interactions_table = sa.Table(
    "interactions",
    schema.metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.String(256), nullable=False),
    sa.Column("product_id", sa.String(256), nullable=False),
    sa.Column("interaction_type", sa.String(32), nullable=False),
    sa.Column("ts", sa.DateTime, nullable=False),  # UTC, naive
    sa.Column("event_id", sa.String(128), nullable=True),
    sa.Column("source", sa.String(16), nullable=False),  # "ingest", or "feedback" for posted events
    sa.Index("interactions_event_id", "event_id", unique=True, **_where("event_id IS NOT NULL")),
    sa.Index(
        "interactions_content",
        "ts",
        "user_id",
        "product_id",
        "interaction_type",
        unique=True,
        **_where("event_id IS NULL"),
    ),
)

EVENT_FIELDS = ("user_id", "product_id", "interaction_type", "ts", "event_id")  # of a row ingested
INTERACTION_FIELDS = (*EVENT_FIELDS, "source")
PRODUCT_FIELDS = (
    "product_id",
    "title",
    "category",
    "description",
    "price",
    "img_url",
    "available",
    "updated_at",
)
CHANGED_FIELDS = PRODUCT_FIELDS[1:-1]  # a product is stored again only when one of these differs
# "{changed}" in the products statement: the stored record differs from the new one (NULLs equal).
CHANGED = {
    "postgresql": " OR ".join(f"products.{f} IS DISTINCT FROM excluded.{f}" for f in CHANGED_FIELDS),
    "sqlite": " OR ".join(f"products.{f} IS NOT excluded.{f}" for f in CHANGED_FIELDS),
}


def log_posted(
    conn: sa.Connection, user_id: str, product_id: str, action: str, ts: datetime, event_id: str | None
) -> None:
    """Add an event posted to /feedback to the log, in the caller's transaction; an event the log
    holds already (ingested with the same event_id, or the same content) stays once."""
    row = dict(
        user_id=user_id,
        product_id=product_id,
        interaction_type=action,
        ts=ts,
        event_id=event_id,
        source=POSTED,
    )
    dialect = {"postgresql": postgresql, "sqlite": sqlite}.get(conn.dialect.name)
    if dialect is not None:
        conn.execute(dialect.insert(interactions_table).values(row).on_conflict_do_nothing())
        return
    c = interactions_table.c
    same = (
        c.event_id == event_id
        if event_id is not None
        else sa.and_(
            c.event_id.is_(None),
            c.ts == ts,
            c.user_id == user_id,
            c.product_id == product_id,
            c.interaction_type == action,
        )
    )
    if conn.execute(sa.select(c.id).where(same)).first() is None:
        conn.execute(interactions_table.insert().values(row))


class UnsupportedDatabase(ValueError):
    """Ingestion writes through PostgreSQL's COPY or SQLite's bulk insert; another database was named."""


def store_interactions(engine: Engine, rows: Sequence[Interaction], source: str = INGESTED) -> int:
    """Store one batch in one transaction; how many of its rows were not stored before."""
    values = [(r.user_id, r.product_id, r.interaction_type, r.ts, r.event_id, source) for r in rows]
    columns = ", ".join(INTERACTION_FIELDS)
    into_log = f"INSERT INTO interactions ({columns}) SELECT {columns} FROM {{rows}} WHERE true " + (
        "ON CONFLICT DO NOTHING"  # an event stored before (by event_id, or by content) stays once
    )
    return _store(engine, "interactions", INTERACTION_FIELDS, values, into_log)


def store_products(engine: Engine, rows: Sequence[Product]) -> int:
    """Store one batch of products in one transaction, each replacing the stored record of its id;
    how many were new or changed (a later row of the same id wins). A product changed through the
    API before gets the ingested record as its latest change (catalog_changes.supersede)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    latest = {p.product_id: p for p in rows}
    values = [
        (p.product_id, p.title, p.category, p.description, p.price, p.img_url, p.available, now)
        for p in latest.values()
    ]
    columns = ", ".join(PRODUCT_FIELDS)
    updates = ", ".join(f"{f} = excluded.{f}" for f in PRODUCT_FIELDS[1:])
    into_catalog = (
        f"INSERT INTO products ({columns}) SELECT {columns} FROM {{rows}} WHERE true "
        f"ON CONFLICT (product_id) DO UPDATE SET {updates} WHERE {{changed}}"
    )
    newest = list(latest.values())
    return _store(
        engine, "products", PRODUCT_FIELDS, values, into_catalog, lambda conn: supersede(conn, newest)
    )


def _store(
    engine: Engine,
    table: str,
    fields: tuple[str, ...],
    values: list[tuple],
    statement: str,
    then: Callable[[sa.Connection], object] = lambda conn: None,
) -> int:
    """Run `statement` over the rows, then `then`, in one transaction; how many rows it stored."""
    if not values:
        return 0
    dialect = engine.dialect.name
    if dialect not in CHANGED:
        raise UnsupportedDatabase(f"ingestion needs PostgreSQL or SQLite; the database is {dialect}")
    statement = statement.replace("{changed}", CHANGED[dialect])
    with engine.begin() as conn:
        driver = conn.connection.driver_connection
        if dialect == "postgresql":
            stored = _copy_then_insert(driver, table, fields, values, statement)
        else:
            stored = _insert_many(driver, fields, values, statement)
        then(conn)
    return stored


def _copy_then_insert(
    driver: psycopg.Connection, table: str, fields: tuple[str, ...], values: list[tuple], statement: str
) -> int:
    """COPY the rows into a temporary table, then run the statement from it ({rows})."""
    with driver.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE batch ON COMMIT DROP AS "
            f"SELECT {', '.join(fields)} FROM {table} WITH NO DATA"
        )
        with cursor.copy(f"COPY batch ({', '.join(fields)}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
        cursor.execute(statement.format(rows="batch"))
        return int(cursor.rowcount)


def _insert_many(
    driver: sqlite3.Connection, fields: tuple[str, ...], values: list[tuple], statement: str
) -> int:
    """Run the statement once a row, its {rows} one row of bound values."""
    placeholders = ", ".join("?" for _ in fields)
    named = ", ".join(f"column{i + 1} AS {f}" for i, f in enumerate(fields))
    rows = f"(SELECT {named} FROM (VALUES ({placeholders})))"
    before = driver.total_changes
    driver.executemany(statement.format(rows=rows), [_sqlite_row(row) for row in values])
    return int(driver.total_changes - before)


def _sqlite_row(row: tuple) -> tuple:
    """Times as SQLAlchemy writes them to SQLite (text), so its reads parse them back."""
    return tuple(v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v for v in row)
