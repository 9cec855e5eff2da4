"""What a build reads the store from: the two CSV files, or the database once it holds products.

Both give the build the same two files (`files()`): the database's tables are written out as the
service's CSV format, straight from the database (PostgreSQL's COPY ... TO STDOUT), into a
folder that is removed after the build. `digest_into` names the inputs' content for the model's
version without reading them whole: the files' bytes, or the tables' size and latest change.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa

from recommender.errors import DataError
from recommender.storage import schema
from recommender.storage.event_log import INGESTED

log = logging.getLogger(__name__)

PRODUCTS_QUERY = (
    "SELECT product_id, title, category, description, price, img_url FROM products ORDER BY product_id"
)
# Events posted to /feedback join a build through the feedback store, as with the CSV files. The
# rows come in the order they were stored (the table is only ever appended to), without a sort.
INTERACTIONS_QUERY = (
    f"SELECT user_id, product_id, interaction_type, ts FROM interactions WHERE source = '{INGESTED}'"
)
STATE_QUERY = (
    "SELECT (SELECT count(*) FROM products), (SELECT max(updated_at) FROM products), "
    f"(SELECT count(*) FROM interactions WHERE source = '{INGESTED}'), "
    f"(SELECT max(id) FROM interactions WHERE source = '{INGESTED}')"
)


class StoreInputs(Protocol):
    kind: str  # "database" or "csv files"
    description: str

    def digest_into(self, digest: hashlib._Hash) -> None: ...

    def files(self) -> contextlib.AbstractContextManager[tuple[Path, Path]]: ...


@dataclass(frozen=True)
class CsvInputs:
    products: Path
    interactions: Path
    kind = "csv files"

    @property
    def description(self) -> str:
        return f"{self.products} and {self.interactions}"

    def digest_into(self, digest: hashlib._Hash) -> None:
        for path in (self.products, self.interactions):
            try:
                with open(path, "rb") as f:
                    for block in iter(lambda f=f: f.read(1 << 20), b""):
                        digest.update(block)
            except FileNotFoundError:
                raise DataError(f"{path}: file not found") from None

    @contextlib.contextmanager
    def files(self) -> Iterator[tuple[Path, Path]]:
        yield self.products, self.interactions


@dataclass(frozen=True)
class DatabaseInputs:
    url: str
    kind = "database"

    @property
    def description(self) -> str:
        return f"the products and interactions tables of {sa.make_url(self.url).render_as_string()}"

    def digest_into(self, digest: hashlib._Hash) -> None:
        engine = schema.engine_for(self.url)
        try:
            with engine.connect() as conn:
                state = tuple(conn.execute(sa.text(STATE_QUERY)).one())
        finally:
            engine.dispose()
        digest.update(repr(("database", *map(str, state))).encode())

    @contextlib.contextmanager
    def files(self) -> Iterator[tuple[Path, Path]]:
        folder = Path(tempfile.mkdtemp(prefix="recsys-export-"))
        try:
            products, interactions = folder / "products.csv", folder / "interactions.csv"
            engine = schema.engine_for(self.url)
            try:
                with engine.connect() as conn:
                    _export(conn, PRODUCTS_QUERY, products)
                    _export(conn, INTERACTIONS_QUERY, interactions)
            finally:
                engine.dispose()  # no connection held while the build runs
            yield products, interactions
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def inputs_of(url: str, products_csv: str | Path, interactions_csv: str | Path) -> StoreInputs:
    """The database when it holds products, otherwise the CSV files. A database that cannot be
    read leaves the CSV files (logged): the service starts, as it does without its feedback store."""
    csv_files = CsvInputs(Path(products_csv), Path(interactions_csv))
    engine = schema.engine_for(url)
    try:
        schema.ready(engine)
        with engine.connect() as conn:
            holds = conn.execute(sa.text("SELECT 1 FROM products LIMIT 1")).first() is not None
    except sa.exc.SQLAlchemyError as exc:
        log.error("database unreadable, building from the CSV files: %s", exc)
        return csv_files
    finally:
        engine.dispose()
    return DatabaseInputs(url) if holds else csv_files


def _export(conn: sa.Connection, query: str, path: Path) -> None:
    """The query's rows as CSV with a header, written to `path`."""
    driver = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        copy_out = f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)"
        with path.open("wb") as out, driver.cursor() as cursor, cursor.copy(copy_out) as copy:
            for block in copy:
                out.write(block)
        return
    cursor = driver.execute(query)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([column[0] for column in cursor.description])
        while rows := cursor.fetchmany(100_000):
            writer.writerows(rows)
