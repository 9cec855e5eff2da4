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
        sa.Column("row_key", sa.String(32), nullable=False, unique=True),
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
