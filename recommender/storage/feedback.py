"""Durable store of feedback events: table `feedback`, which keeps what answer and A/B variant
each event came from. Each event also joins the event log (`interactions`) in the same transaction.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from recommender.errors import FeedbackUnavailableError
from recommender.experiments.ab_testing import parse_recomm_id
from recommender.storage import schema
from recommender.storage.event_log import log_posted

log = logging.getLogger(__name__)

ACTIONS = ("view", "clicked", "add_to_cart", "purchase")
# The times a rebuild takes an event at: from 1970 to a day past the builder's clock. The API
# refuses any other since this was checked, but rows stored before, or by hand, may hold one.
EARLIEST_TS = datetime(1970, 1, 1)
LATEST_TS_AHEAD = timedelta(days=1)

feedback_table = sa.Table(
    "feedback",
    schema.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.String(256), nullable=False, index=True),
    sa.Column("product_id", sa.String(256), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("ts", sa.DateTime, nullable=False),
    sa.Column("received_at", sa.DateTime, nullable=False),
    # A client's own id for the event: a retried post with the same id is stored once.
    sa.Column("event_id", sa.String(128), nullable=True, unique=True),
    # The recomm_id of the answer the event came from (its A/B variant, for an A/B answer).
    sa.Column("recomm_id", sa.String(128), nullable=True),
    # What an A/B answer's recomm_id names, kept apart so the A/B report can count by them.
    sa.Column("ab_experiment", sa.String(64), nullable=True, index=True),
    sa.Column("ab_variant", sa.String(64), nullable=True),
)


@dataclass(frozen=True)
class FeedbackSnapshot:
    """Every usable stored event, as interactions, for a rebuild."""

    events: pd.DataFrame  # user_id, product_id, interaction_type, ts
    last_id: int  # the last event stored (usable or not): later ones apply on top
    skipped: int  # events no model can use (a time outside EARLIEST_TS..now, an unknown action)


@dataclass(frozen=True)
class FeedbackEvent:
    user_id: str
    product_id: str
    action: str
    ts: datetime  # UTC, naive
    received_at: datetime  # UTC, naive
    event_id: str | None = None
    recomm_id: str | None = None


class FeedbackStore:
    """Commits each event before returning, so an acknowledged event is on disk."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.engine = schema.engine_for(url)
        # Connections must not cross a fork (gunicorn's preload): each child opens its own.
        this = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (store := this()) and store._after_fork())
        self._table_ready = False
        self.state = "unknown"  # "ok" or "unavailable" after each use: what /health reports
        self._readers = threading.local()
        c = feedback_table.c
        self._after = (
            sa.select(c.id, c.user_id, c.product_id, c.action, c.ts)
            .where(c.id > sa.bindparam("last"))
            .order_by(c.id)
        )
        try:
            self._create_table()
        except sa.exc.SQLAlchemyError as exc:
            log.error("feedback store %s unavailable at start: %s", self.url.render_as_string(), exc)

    def add(self, event: FeedbackEvent) -> bool:
        """Insert and commit one event: True once stored, False if its event_id was stored before.

        Raises FeedbackUnavailableError when the event could not be stored.
        """
        try:
            self._create_table()
            with self.engine.begin() as conn:
                self._insert(conn, event)
            self.state = "ok"
            return True
        except sa.exc.IntegrityError as exc:
            if event.event_id is not None and self._stored(event.event_id):
                return False
            log.error("feedback not stored: %s", exc)
            raise FeedbackUnavailableError("the feedback store refused the event; retry later") from exc
        except sa.exc.SQLAlchemyError as exc:
            log.error("feedback not stored: %s", exc)
            self.state = "unavailable"
            raise FeedbackUnavailableError("the feedback store is unavailable; retry later") from exc

    def _insert(self, conn: sa.Connection, event: FeedbackEvent) -> None:
        schema.in_id_order(conn, feedback_table)
        conn.execute(feedback_table.insert().values(**vars(event), **_ab_fields(event.recomm_id)))
        log_posted(conn, event.user_id, event.product_id, event.action, event.ts, event.event_id)

    def events_after(self, last_id: int) -> list[tuple[int, str, str, str, datetime]]:
        """Events stored after `last_id`, in id order: (id, user_id, product_id, action, ts).

        Asked before every personal answer, so it reuses one connection per thread and ends its
        read at once (an open read would keep seeing an old snapshot). Empty if the store fails.
        """
        try:
            self._create_table()
            reader = getattr(self._readers, "connection", None)
            if reader is None or reader.closed:
                reader = self._readers.connection = self.engine.connect()
            try:
                rows = reader.execute(self._after, {"last": last_id}).all()
            finally:
                reader.rollback()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("feedback store unreadable, answering without new feedback: %s", exc)
            self._readers.connection = None
            self.state = "unavailable"
            return []
        self.state = "ok"
        return [tuple(row) for row in rows]  # type: ignore[misc]

    def recent_of(self, user_id: str, limit: int) -> list[tuple[str, str, datetime]]:
        """The user's latest stored events, newest first: (product_id, action, ts). Empty if the
        store cannot be read."""
        c = feedback_table.c
        query = (
            sa.select(c.product_id, c.action, c.ts)
            .where(c.user_id == user_id)
            .order_by(c.id.desc())
            .limit(limit)
        )
        try:
            self._create_table()
            with self.engine.connect() as conn:
                return [tuple(row) for row in conn.execute(query)]  # type: ignore[misc]
        except sa.exc.SQLAlchemyError as exc:
            log.warning("feedback store unreadable: %s", exc)
            return []

    def per_hour(self, after_id: int, since: datetime) -> list[tuple[datetime, str, int]]:
        """Events stored after event `after_id` that happened from `since` on, counted per hour of
        their time and action: (hour, action, events). Raises SQLAlchemyError if the store fails."""
        c = feedback_table.c
        if self.engine.dialect.name == "postgresql":
            hour = sa.func.date_trunc("hour", c.ts)
        else:  # SQLite: the hour as text
            hour = sa.func.strftime("%Y-%m-%d %H:00:00", c.ts)
        query = (
            sa.select(hour, c.action, sa.func.count())
            .where(c.id > after_id, c.ts >= since)
            .group_by(hour, c.action)
        )
        self._create_table()
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [(_as_datetime(when), action, int(n)) for when, action, n in rows]

    def snapshot(self) -> FeedbackSnapshot:
        """Every stored event a model can use, as interactions; the rest are counted and logged,
        never in the way of a rebuild."""
        c = feedback_table.c
        latest = datetime.now(UTC).replace(tzinfo=None) + LATEST_TS_AHEAD
        usable = sa.and_(c.ts >= EARLIEST_TS, c.ts <= latest, c.action.in_(ACTIONS))
        query = sa.select(c.user_id, c.product_id, c.action, c.ts).where(usable).order_by(c.id)
        self._create_table()
        with self.engine.connect() as conn:  # one read: the count and the rows agree
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                total, last_id = conn.execute(sa.select(sa.func.count(), sa.func.max(c.id))).one()
                rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=["user_id", "product_id", "interaction_type", "ts"])
        frame["ts"] = pd.to_datetime(frame["ts"]).astype("datetime64[ns]")
        skipped = total - len(frame)
        if skipped:
            log.warning(
                "%d stored feedback events left out of the rebuild (time outside %s..%s, or unknown action)",
                skipped,
                EARLIEST_TS.date(),
                latest.date(),
            )
        return FeedbackSnapshot(frame, int(last_id or 0), skipped)

    def close(self) -> None:
        """Let go of this thread's reader and every pooled connection."""
        reader = getattr(self._readers, "connection", None)
        if reader is not None:
            reader.close()
            self._readers.connection = None
        self.engine.dispose()

    def _after_fork(self) -> None:
        self.engine.dispose(close=False)
        self._readers = threading.local()

    def _create_table(self) -> None:
        """Bring the database's schema up to date (also when the database was away at start)."""
        if not self._table_ready:
            schema.ready(self.engine)
            self._table_ready = True

    def _stored(self, event_id: str) -> bool:
        query = sa.select(feedback_table.c.id).where(feedback_table.c.event_id == event_id)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(feedback_table)).scalar_one())


def _as_datetime(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _ab_fields(recomm_id: str | None) -> dict[str, str | None]:
    named = parse_recomm_id(recomm_id) if recomm_id else None
    return {"ab_experiment": named[0] if named else None, "ab_variant": named[1] if named else None}
