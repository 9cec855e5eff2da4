"""The service's database: its engine, its tables' metadata, and its schema kept by Alembic migrations.

Every store upgrades the schema before its first use (`ready`), so a database made by an earlier
release is brought up to date at start; `alembic upgrade head` from the repository root does the
same by hand. The migrations are in `migrations/versions/`, one file per change.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import Engine, make_url

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# Tries of an upgrade that meets another process upgrading the same database at the same moment.
UPGRADE_TRIES = 3

metadata = sa.MetaData()  # every table the service reads and writes

_upgraded: set[str] = set()  # the databases this process has brought to the latest revision
_upgrading = threading.Lock()


def engine_for(url: str) -> Engine:
    """An engine for the service's database; SQLite's folder is made if needed."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    if parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # WAL lets readers and one writer work at once; FULL sync makes a commit survive power loss.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    return engine


@contextlib.contextmanager
def connected(url: str) -> Iterator[sa.Connection]:
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            yield connection
            connection.commit()
    finally:
        engine.dispose()


def ready(engine: Engine) -> None:
    """Upgrade the database to the latest revision, once a process (raises SQLAlchemyError)."""
    key = engine.url.render_as_string(hide_password=False)
    if key in _upgraded:
        return
    with _upgrading:
        if key not in _upgraded:
            upgrade(engine)
            _upgraded.add(key)


def upgrade(engine: Engine) -> None:
    """Apply every migration the database lacks, in one transaction where the database allows."""
    for attempt in range(1, UPGRADE_TRIES + 1):
        try:
            with engine.begin() as connection:
                if connection.dialect.name == "postgresql":  # one upgrader at a time
                    connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key())))
                settings = AlembicConfig()
                settings.set_main_option("script_location", str(MIGRATIONS))
                settings.attributes["connection"] = connection
                command.upgrade(settings, "head")
            return
        except sa.exc.OperationalError as exc:  # SQLite: another process upgraded first
            if attempt == UPGRADE_TRIES:
                raise
            log.info("database upgrade met another one, trying again: %s", exc)


def revision(engine: Engine) -> str | None:
    """The database's schema revision (None: no migration applied)."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def _lock_key() -> int:
    return int.from_bytes(hashlib.sha256(b"recsys.schema").digest()[:8], "big", signed=True)


def in_id_order(conn: sa.Connection, table: sa.Table) -> None:
    """Make the transaction's new rows of `table` commit in the order of their ids.

    Readers ask for the rows after the last id they applied. On PostgreSQL ids come from a
    sequence when a row is inserted, and a transaction that took id 11 may commit after one that
    took 12: a reader that saw 12 would never see 11. Writers therefore take turns, through a
    lock held until their commit (PostgreSQL's transaction-level advisory lock; each insert is
    one short transaction). SQLite has one writer at a time already.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_id_order_key(table.name))))


@functools.cache
def _id_order_key(table: str) -> int:
    """The advisory-lock key of a table's writers: fixed, and shared by every process."""
    return int.from_bytes(hashlib.sha256(f"recsys.ids.{table}".encode()).digest()[:8], "big", signed=True)
