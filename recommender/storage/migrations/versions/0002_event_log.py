"""The store's event log and catalog: tables `interactions` and `products`, filled by ingestion.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interactions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("product_id", sa.String(256), nullable=False),
        sa.Column("interaction_type", sa.String(32), nullable=False),
        sa.Column("ts", sa.DateTime, nullable=False),
        sa.Column("event_id", sa.String(128), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
    )
    # An event is stored once: by its event_id where it has one, otherwise by its content.
    only_once = {
        "interactions_event_id": (["event_id"], "event_id IS NOT NULL"),
        "interactions_content": (["ts", "user_id", "product_id", "interaction_type"], "event_id IS NULL"),
    }
    for name, (columns, where) in only_once.items():
        op.create_index(
            name,
            "interactions",
            columns,
            unique=True,
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )
    op.create_table(
        "products",
        sa.Column("product_id", sa.String(256), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("price", sa.Float, nullable=True),
        sa.Column("img_url", sa.Text, nullable=False),
        sa.Column("available", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
