"""A/B exposures: which users were shown which variant, how often, and since when.

Recording one is a dictionary update in the worker: the request path never waits on the
database. A background thread writes what piled up once a second, as one upsert per user, and
what is left is written when the worker exits. So a graceful restart loses nothing, and `kill -9`
loses at most the last second of that worker's exposures. The rows live in the feedback
database beside the events they are compared with, so every worker and replica adds to the
same counts, and the report is the same whichever of them answers.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from recommender.storage import schema

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0

exposures_table = sa.Table(
    "ab_exposures",
    schema.metadata,
    sa.Column("experiment", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(256), primary_key=True),
    sa.Column("variant", sa.String(64), nullable=False),
    sa.Column("exposures", sa.Integer, nullable=False),
    sa.Column("first_at", sa.DateTime, nullable=False),  # UTC, naive
    sa.Column("last_at", sa.DateTime, nullable=False),
)


@dataclass
class _Pending:
    """One user's exposures not yet written."""

    variant: str
    count: int
    first_at: datetime
    last_at: datetime

    def merge(self, later: _Pending) -> None:
        self.count += later.count
        self.first_at = min(self.first_at, later.first_at)
        self.last_at = max(self.last_at, later.last_at)


class ExposureLog:
    """Buffered exposures, written to the `ab_exposures` table by a thread of each process."""

    def __init__(self, engine: Engine, interval: float = FLUSH_SECONDS) -> None:
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise ValueError(f"A/B exposures need SQLite or PostgreSQL, not {engine.dialect.name}")
        self.engine = engine
        self.interval = interval
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._lock = threading.Lock()
        self._writing = threading.Lock()  # one flush at a time: the thread's, the report's, exit's
        self._pid: int | None = None  # the process whose thread is running
        self._upsert: _Upsert | None = None  # made once the table is ready

    def record(self, experiment: str, user_id: str, variant: str) -> None:
        """One answer of `variant` shown to `user_id`; written within a second."""
        if self._pid != os.getpid():
            self._start()
        now = datetime.now(UTC).replace(tzinfo=None)
        key = (experiment, user_id)
        with self._lock:
            entry = self._pending.get(key)
            if entry is None:
                self._pending[key] = _Pending(variant, 1, now, now)
            else:
                entry.count += 1
                entry.last_at = now

    def flush(self) -> int:
        """Write what is pending; returns the exposures written. A write that fails because the
        database is away keeps them for the next flush (nothing is lost while the process lives);
        one the database refuses is retried row by row, and only the refused rows are dropped."""
        with self._writing:
            with self._lock:
                batch, self._pending = self._pending, {}
            if not batch:
                return 0
            try:
                self._write(batch)
            except sa.exc.SQLAlchemyError as exc:
                if _transient(exc):
                    log.warning("A/B exposures not written yet (%d users), retrying: %s", len(batch), exc)
                    self._keep(batch)
                    return 0
                return self._write_each(batch)
            return sum(entry.count for entry in batch.values())

    def _write_each(self, batch: dict[tuple[str, str], _Pending]) -> int:
        """Each user's row alone: a row the database refuses is logged and dropped, never retried."""
        written = 0
        for key, entry in sorted(batch.items()):
            try:
                self._write({key: entry})
            except sa.exc.SQLAlchemyError as exc:
                if _transient(exc):
                    self._keep({k: e for k, e in batch.items() if k >= key})
                    return written
                log.error("A/B exposure of user %r dropped: the database refuses it: %s", key[1][:64], exc)
                continue
            written += entry.count
        return written

    def _keep(self, batch: dict[tuple[str, str], _Pending]) -> None:
        """Put unwritten exposures back, merged with any recorded meanwhile."""
        with self._lock:
            for key, entry in batch.items():
                later = self._pending.get(key)
                if later is not None:
                    entry.merge(later)
                self._pending[key] = entry

    def _write(self, batch: dict[tuple[str, str], _Pending]) -> None:
        if self._upsert is None:
            schema.ready(self.engine)
            self._upsert = _Upsert(self.engine.dialect)
        # One order of rows: no deadlock between writers.
        rows = [self._upsert.row(key, entry) for key, entry in sorted(batch.items())]
        with self.engine.begin() as conn:
            conn.exec_driver_sql(self._upsert.sql, rows)

    def _start(self) -> None:
        """The writer thread of this process (threads do not survive gunicorn's fork). It and the
        exit hook hold the log weakly: a log nobody uses any more stops its thread."""
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._pending = {}  # a parent's exposures are the parent's to write
        ref = weakref.ref(self)
        threading.Thread(target=_write_every, args=(ref, self._pid), name="ab-exposures", daemon=True).start()
        atexit.register(_write_now, ref)


class _Upsert:
    """The statement that adds a batch of exposures to the table, compiled once for the database,
    and its rows as the database driver takes them.

    The flush runs in a thread of the worker, and its Python work holds up the requests being
    answered meanwhile. Handed to SQLAlchemy as dictionaries, a flush of 1,000 users on SQLite
    took twice the time, most of it in turning each row's values into the driver's one by one;
    here a row is made in one step.
    """

    def __init__(self, dialect: sa.Dialect) -> None:
        table = exposures_table
        insert = (postgresql if dialect.name == "postgresql" else sqlite).insert(table)
        new = insert.excluded
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.experiment, table.c.user_id],
            set_={
                "exposures": table.c.exposures + new.exposures,
                "first_at": sa.case((new.first_at < table.c.first_at, new.first_at), else_=table.c.first_at),
                "last_at": sa.case((new.last_at > table.c.last_at, new.last_at), else_=table.c.last_at),
            },
        )
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        # A driver that takes parameters by place (SQLite's) takes them in the table's column order.
        self.by_name = compiled.positiontup is None
        if not self.by_name and tuple(compiled.positiontup) != COLUMNS:
            raise ValueError(f"the upsert's parameters come as {compiled.positiontup}, not {COLUMNS}")
        self.sqlite = dialect.name == "sqlite"

    def row(self, key: tuple[str, str], entry: _Pending) -> tuple | dict[str, object]:
        """One user's exposures (key: experiment and user) as the driver takes them."""
        experiment, user_id = key
        first_at, last_at = entry.first_at, entry.last_at
        if self.sqlite:
            first_at, last_at = _sqlite_time(first_at), _sqlite_time(last_at)
        values = (experiment, user_id, entry.variant, entry.count, first_at, last_at)
        return dict(zip(COLUMNS, values, strict=True)) if self.by_name else values


COLUMNS = tuple(column.name for column in exposures_table.columns)


def _sqlite_time(moment: datetime) -> str:
    """A time as SQLAlchemy keeps a DateTime in SQLite ("2026-01-02 03:04:05.000000"): the report
    compares it with the events' times as text."""
    return moment.isoformat(" ", "microseconds")


def _transient(exc: sa.exc.SQLAlchemyError) -> bool:
    """A failure of the connection or the server (worth retrying), not of the rows sent."""
    return isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError) or bool(
        getattr(exc, "connection_invalidated", False)
    )


def _write_every(ref: weakref.ref[ExposureLog], pid: int) -> None:
    while (exposures := ref()) is not None and exposures._pid == pid:
        interval = exposures.interval
        exposures.flush()
        del exposures
        time.sleep(interval)


def _write_now(ref: weakref.ref[ExposureLog]) -> None:
    exposures = ref()
    if exposures is not None and exposures._pid == os.getpid():
        exposures.flush()
