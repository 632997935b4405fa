"""The runtime configuration's ``stream`` section, seeded with its defaults.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NAME = "stream"
DESCRIPTION = "The market-data stream: symbols subscribed at most, the lag past which REST takes over, the lease"
# The defaults as of this revision, so an operator finds the stream's tunables in the table.
CONFIG = {"max_symbols": 30, "max_lag_seconds": 2.0, "lease_seconds": 5.0}


def upgrade() -> None:
    document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    table = sa.table(
        "api_configurations", sa.column("name", sa.String), sa.column("description", sa.Text), sa.column("config", document)
    )
    op.bulk_insert(table, [{"name": NAME, "description": DESCRIPTION, "config": CONFIG}])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM api_configurations WHERE name = :name").bindparams(name=NAME))
