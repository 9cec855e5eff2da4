"""The database's schema: a database of the release before migrations is upgraded in place,
with nothing lost, at start or with `alembic upgrade head`."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from recommender.storage import schema
from recommender.storage.feedback import FeedbackEvent, FeedbackStore

ROOT = Path(__file__).resolve().parent.parent
HEAD = "0003"

# The tables as the last release before migrations made them (its create_all).
EARLIER = sa.MetaData()
sa.Table(
    "feedback",
    EARLIER,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.String(256), nullable=False, index=True),
    sa.Column("product_id", sa.String(256), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("ts", sa.DateTime, nullable=False),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column("event_id", sa.String(128), nullable=True, unique=True),
    sa.Column("recomm_id", sa.String(128), nullable=True),
    sa.Column("ab_experiment", sa.String(64), nullable=True, index=True),
    sa.Column("ab_variant", sa.String(64), nullable=True),
)
sa.Table(
    "ab_exposures",
    EARLIER,
    sa.Column("experiment", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(256), primary_key=True),
    sa.Column("variant", sa.String(64), nullable=False),
    sa.Column("exposures", sa.Integer, nullable=False),
    sa.Column("first_at", sa.DateTime, nullable=False),
    sa.Column("last_at", sa.DateTime, nullable=False),
)
sa.Table(
    "catalog_changes",
    EARLIER,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("product_id", sa.String(256), nullable=False, index=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("price", sa.Float, nullable=True),
    sa.Column("img_url", sa.Text, nullable=False),
    sa.Column("available", sa.Boolean, nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False),
)
AT = datetime(2024, 1, 1, 12)
ROWS = {
    "feedback": [
        dict(user_id="U1", product_id="P1", action="view", event_id="e-1", recomm_id=None, ab_experiment=None)
        | dict(ts=AT, received_at=AT, ab_variant=None),
        dict(user_id="U2", product_id="P2", action="purchase", event_id=None, recomm_id="x-hybrid-1")
        | dict(ts=AT, received_at=AT, ab_experiment="x", ab_variant="hybrid"),
    ],
    "ab_exposures": [
        dict(experiment="x", user_id="U2", variant="hybrid", exposures=3, first_at=AT, last_at=AT)
    ],
    "catalog_changes": [
        dict(
            product_id="P9",
            title="Tea Pot",
            category="Kitchen",
            description="",
            price=20.0,
            img_url="",
            available=True,
            changed_at=AT,
        )
    ],
}


@pytest.fixture(params=["sqlite", "postgresql"])
def earlier_database(request, tmp_path) -> str:
    """A database as the release before migrations left it, with rows in each table."""
    url = (
        f"sqlite:///{tmp_path / 'earlier.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = sa.create_engine(url)
    EARLIER.create_all(engine)
    with engine.begin() as conn:
        for table, rows in ROWS.items():
            conn.execute(EARLIER.tables[table].insert(), rows)
    engine.dispose()
    return url


def contents(url: str) -> dict[str, list[tuple]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: sorted(tuple(r) for r in conn.execute(sa.select(EARLIER.tables[name]))) for name in ROWS
            }
    finally:
        engine.dispose()


def test_a_database_of_the_earlier_release_is_upgraded_at_start_with_nothing_lost(earlier_database):
    before = contents(earlier_database)
    store = FeedbackStore(earlier_database)  # what the service does at start
    try:
        assert store.add(FeedbackEvent("U3", "P3", "view", AT, AT, event_id="e-2"))
        assert store.add(FeedbackEvent("U1", "P1", "view", AT, AT, event_id="e-1")) is False  # kept its id
        assert schema.revision(store.engine) == HEAD
    finally:
        store.close()
        schema._upgraded.clear()
    after = contents(earlier_database)
    assert after["ab_exposures"] == before["ab_exposures"]
    assert after["catalog_changes"] == before["catalog_changes"]
    assert after["feedback"][:2] == before["feedback"] and len(after["feedback"]) == 3
    engine = sa.create_engine(earlier_database)
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert {"interactions", "products", "alembic_version"} <= tables
    with engine.connect() as conn:
        log = conn.execute(sa.text("SELECT user_id, event_id, source FROM interactions ORDER BY id")).all()
    engine.dispose()
    # the earlier feedback joined the log at the upgrade; the new event since
    assert [tuple(r) for r in log] == [
        ("U1", "e-1", "feedback"),
        ("U2", None, "feedback"),
        ("U3", "e-2", "feedback"),
    ]


def test_an_upgraded_database_is_upgraded_again_without_change(earlier_database):
    engine = schema.engine_for(earlier_database)
    schema.upgrade(engine)
    schema.upgrade(engine)
    assert schema.revision(engine) == HEAD
    engine.dispose()


def test_alembic_upgrades_the_database_database_url_names(tmp_path):
    url = f"sqlite:///{tmp_path / 'by-hand.db'}"
    env = {**os.environ, "DATABASE_URL": url}
    alembic = [sys.executable, "-m", "alembic"]
    subprocess.run([*alembic, "upgrade", "head"], cwd=ROOT, env=env, check=True, capture_output=True)
    current = subprocess.run(
        [*alembic, "current"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    assert current.stdout.strip() == f"{HEAD} (head)"
