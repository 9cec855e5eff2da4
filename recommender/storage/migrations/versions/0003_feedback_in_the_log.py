"""Events posted to /feedback before the event log existed join it: one log of every event.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

from recommender.storage.event_log import POSTED

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # As each post now joins it: an event the log holds already (same event_id, or same content) stays once.
    op.execute(
        "INSERT INTO interactions (user_id, product_id, interaction_type, ts, event_id, source) "
        f"SELECT user_id, product_id, action, ts, event_id, '{POSTED}' FROM feedback WHERE true "
        "ORDER BY id ON CONFLICT DO NOTHING"
    )
