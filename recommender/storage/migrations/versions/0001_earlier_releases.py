"""The tables of the releases before migrations: feedback, A/B exposures, catalog changes.

A database one of those releases made already holds some of them, perhaps without the columns
later releases added: what is missing is added and nothing there is touched.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from recommender.experiments.ab_testing import parse_recomm_id

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)


def upgrade() -> None:
    _feedback()
    if not _exists("ab_exposures"):
        op.create_table(
            "ab_exposures",
            sa.Column("experiment", sa.String(64), primary_key=True),
            sa.Column("user_id", sa.String(256), primary_key=True),
            sa.Column("variant", sa.String(64), nullable=False),
            sa.Column("exposures", sa.Integer, nullable=False),
            sa.Column("first_at", sa.DateTime, nullable=False),
            sa.Column("last_at", sa.DateTime, nullable=False),
        )
    if not _exists("catalog_changes"):
        op.create_table(
            "catalog_changes",
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


def _feedback_columns() -> tuple[sa.Column, ...]:
    """The feedback table's columns as the last release before migrations had them."""
    return (
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


def _feedback() -> None:
    if not _exists("feedback"):
        op.create_table("feedback", *_feedback_columns())
        return
    connection = op.get_bind()
    have = {c["name"] for c in sa.inspect(connection).get_columns("feedback")}
    for column in _feedback_columns():
        if column.name not in have:  # added by a later release: nullable, no index of its own yet
            op.add_column("feedback", sa.Column(column.name, column.type, nullable=True))
            log.info("feedback table: added column %s", column.name)
    indexes = {i["name"] for i in sa.inspect(connection).get_indexes("feedback")}
    for name in ("user_id", "ab_experiment"):
        if f"ix_feedback_{name}" not in indexes:
            op.create_index(f"ix_feedback_{name}", "feedback", [name])
    if "ab_variant" not in have:  # events stored with a recomm_id before the column existed
        _name_ab_variants(connection)


def _name_ab_variants(connection: sa.Connection) -> None:
    feedback = sa.table(
        "feedback",
        sa.column("id"),
        sa.column("recomm_id"),
        sa.column("ab_experiment"),
        sa.column("ab_variant"),
    )
    c = feedback.c
    rows = connection.execute(sa.select(c.id, c.recomm_id).where(c.recomm_id.is_not(None))).all()
    updates = [
        {"row": row_id, "ab_experiment": named[0], "ab_variant": named[1]}
        for row_id, recomm in rows
        if (named := parse_recomm_id(recomm))
    ]
    if updates:
        connection.execute(
            feedback.update()
            .where(c.id == sa.bindparam("row"))
            .values(ab_experiment=sa.bindparam("ab_experiment"), ab_variant=sa.bindparam("ab_variant")),
            updates,
        )
        log.info("feedback table: %d earlier events now name their A/B variant", len(updates))


def _exists(table: str) -> bool:
    return sa.inspect(op.get_bind()).has_table(table)
