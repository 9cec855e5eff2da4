from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
import sqlalchemy as sa

from recommender.errors import FeedbackUnavailableError
from recommender.storage.feedback import FeedbackEvent, FeedbackStore, feedback_table

EVENT = FeedbackEvent("U1", "P1", "purchase", datetime(2024, 1, 1, 12), datetime(2024, 1, 1, 12, 0, 1))


def test_events_are_committed(tmp_path):
    url = f"sqlite:///{tmp_path / 'sub' / 'fb.db'}"
    store = FeedbackStore(url)
    store.add(EVENT)
    store.add(EVENT)
    # A second engine sees both rows: they were committed, not just written to a transaction.
    with sa.create_engine(url).connect() as conn:
        rows = conn.execute(sa.select(feedback_table)).all()
    assert [(r.user_id, r.product_id, r.action, r.ts) for r in rows] == [
        ("U1", "P1", "purchase", EVENT.ts)
    ] * 2
    assert store.count() == 2


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_posted_events_land_in_the_event_log_once(request, tmp_path, database):
    from recommender.data.event_files import Interaction
    from recommender.storage.event_log import store_interactions

    url = (
        f"sqlite:///{tmp_path / 'fb.db'}" if database == "sqlite" else request.getfixturevalue("postgres_url")
    )
    store = FeedbackStore(url)
    ingested = Interaction("U9", "P9", "purchase", EVENT.ts, "order-9")
    assert store_interactions(store.engine, [ingested]) == 1
    store.add(EVENT)
    store.add(EVENT)  # the same content again: two feedback rows, one event of the log
    store.add(replace(EVENT, ts=EVENT.ts.replace(minute=5)))  # another event
    store.add(FeedbackEvent("U9", "P9", "purchase", EVENT.ts, EVENT.received_at, event_id="order-9"))
    with store.engine.connect() as conn:
        log = conn.execute(sa.text("SELECT user_id, source FROM interactions ORDER BY id")).all()
    assert store.count() == 4
    store.close()
    # the post of an event ingested before under its event_id is the same event
    assert [tuple(r) for r in log] == [("U9", "ingest"), ("U1", "feedback"), ("U1", "feedback")]


def test_sqlite_runs_in_wal_mode(tmp_path):
    store = FeedbackStore(f"sqlite:///{tmp_path / 'fb.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_unavailable_store_raises_instead_of_acknowledging(tmp_path):
    store = FeedbackStore(f"sqlite:///{tmp_path / 'fb.db'}")
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE feedback")
    with pytest.raises(FeedbackUnavailableError, match="retry later"):
        store.add(EVENT)


def test_a_retried_event_id_is_stored_once(tmp_path):
    store = FeedbackStore(f"sqlite:///{tmp_path / 'fb.db'}")
    retried = FeedbackEvent("U1", "P1", "purchase", EVENT.ts, EVENT.received_at, event_id="order-17-line-2")
    assert store.add(retried) is True
    assert store.add(retried) is False
    assert store.add(EVENT) is True  # events without an id are never merged
    assert store.add(EVENT) is True
    assert store.count() == 3


def test_a_database_away_at_start_is_used_once_it_is_there(tmp_path, monkeypatch):
    from recommender.storage import schema

    real_upgrade = schema.upgrade
    away = sa.exc.OperationalError("CREATE TABLE", {}, Exception("connection refused"))
    monkeypatch.setattr(schema, "upgrade", lambda engine: (_ for _ in ()).throw(away))
    store = FeedbackStore(f"sqlite:///{tmp_path / 'fb.db'}")  # starts anyway
    with pytest.raises(FeedbackUnavailableError):
        store.add(EVENT)
    monkeypatch.setattr(schema, "upgrade", real_upgrade)  # the database is back
    assert store.add(EVENT) is True and store.count() == 1


def test_postgresql_store(postgres_url):
    store = FeedbackStore(postgres_url)
    retried = FeedbackEvent("U1", "P1", "purchase", EVENT.ts, EVENT.received_at, event_id="e-1")
    assert store.add(EVENT) is True
    assert store.add(retried) is True and store.add(retried) is False
    assert store.count() == 2
    store.engine.dispose()


OLD_TABLE = """CREATE TABLE feedback (
    id INTEGER PRIMARY KEY, user_id VARCHAR(256) NOT NULL, product_id VARCHAR(256) NOT NULL,
    action VARCHAR(32) NOT NULL, ts TIMESTAMP NOT NULL, received_at TIMESTAMP NOT NULL,
    event_id VARCHAR(128) UNIQUE)"""


def old_table(request, tmp_path, database: str, table: str, rows: str) -> str:
    """A feedback table as an earlier release made it, with rows; its database's URL."""
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if database == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if database == "postgresql":
            table = table.replace("INTEGER PRIMARY KEY", "SERIAL PRIMARY KEY")
        conn.execute(sa.text(table))
        conn.execute(sa.text(rows))
    engine.dispose()
    return url


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_table_from_an_earlier_release_gains_the_new_column_and_keeps_its_rows(request, tmp_path, database):
    url = old_table(
        request,
        tmp_path,
        database,
        OLD_TABLE,
        "INSERT INTO feedback (user_id, product_id, action, ts, received_at) "
        "VALUES ('U1', 'P1', 'view', '2024-01-01 10:00:00', '2024-01-01 10:00:01')",
    )
    store = FeedbackStore(url)
    store.add(
        FeedbackEvent(
            "U2", "P2", "clicked", datetime(2024, 2, 1), datetime(2024, 2, 1), recomm_id="e-hybrid-1"
        )
    )
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT user_id, recomm_id, ab_experiment, ab_variant FROM feedback ORDER BY id")
        ).all()
    assert [tuple(r) for r in rows] == [("U1", None, None, None), ("U2", "e-hybrid-1", "e", "hybrid")]
    store.engine.dispose()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_events_stored_with_a_recomm_id_before_the_ab_columns_existed_name_their_variant(
    request, tmp_path, database
):
    table = OLD_TABLE.replace("UNIQUE)", "UNIQUE, recomm_id VARCHAR(128))")
    url = old_table(
        request,
        tmp_path,
        database,
        table,
        "INSERT INTO feedback (user_id, product_id, action, ts, received_at, recomm_id) VALUES "
        "('U1', 'P1', 'clicked', '2024-01-01', '2024-01-01', 'ab12cd34-content-0f1e'), "
        "('U2', 'P2', 'clicked', '2024-01-01', '2024-01-01', '0f1e2d3c4b5a6978'), "
        "('U3', 'P3', 'view', '2024-01-01', '2024-01-01', NULL)",
    )
    store = FeedbackStore(url)
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT user_id, ab_experiment, ab_variant FROM feedback ORDER BY id")
        ).all()
    assert [tuple(r) for r in rows] == [("U1", "ab12cd34", "content"), ("U2", None, None), ("U3", None, None)]
    store.engine.dispose()
