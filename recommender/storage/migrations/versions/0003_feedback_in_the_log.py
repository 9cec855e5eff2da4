"""Events posted to /feedback before the event log existed join it: one log of every event.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from recommender.storage.event_log import POSTED, event_key, posted_key

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ROWS_AT_ONCE = 1_000  # feedback rows a query (their keys go in one IN list)


def upgrade() -> None:
    connection = op.get_bind()
    feedback = sa.table(
        "feedback",
        sa.column("id"),
        sa.column("user_id"),
        sa.column("product_id"),
        sa.column("action"),
        sa.column("ts", sa.DateTime),
        sa.column("event_id"),
    )
    interactions = sa.table(
        "interactions",
        *(sa.column(name) for name in ("user_id", "product_id", "interaction_type", "event_id", "source")),
        sa.column("ts", sa.DateTime),
        sa.column("row_key"),
    )
    c = feedback.c
    last = 0
    while True:
        query = sa.select(feedback).where(c.id > last).order_by(c.id).limit(ROWS_AT_ONCE)
        rows = connection.execute(query).all()
        if not rows:
            return
        keyed = {_key(row): row for row in rows}
        held = sa.select(interactions.c.row_key).where(interactions.c.row_key.in_(list(keyed)))
        for key in connection.execute(held).scalars():  # ingested already, with its event_id
            del keyed[key]
        if keyed:
            connection.execute(
                interactions.insert(),
                [
                    dict(
                        user_id=row.user_id,
                        product_id=row.product_id,
                        interaction_type=row.action,
                        ts=row.ts,
                        event_id=row.event_id,
                        source=POSTED,
                        row_key=key,
                    )
                    for key, row in keyed.items()
                ],
            )
        last = rows[-1].id


def _key(row: sa.Row) -> str:
    if row.event_id:
        return event_key(row.user_id, row.product_id, row.action, row.ts, row.event_id)
    return posted_key(row.id)
