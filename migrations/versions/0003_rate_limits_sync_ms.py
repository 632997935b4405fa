"""The ``rate_limits`` section gains ``sync_ms``, how often each worker syncs its client-limit counts with Redis.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NAME = "rate_limits"
SYNC_MS = 100  # the default as of this revision, written so an operator finds the tunable in the row

_document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_table = sa.table("api_configurations", sa.column("name", sa.String), sa.column("config", _document))


def _change(edit) -> None:
    """Apply ``edit`` to the row's config, when the row is there (an operator may have deleted it)."""
    connection = op.get_bind()
    row = connection.execute(sa.select(_table.c.config).where(_table.c.name == NAME)).first()
    if row is not None and isinstance(row.config, dict):
        connection.execute(sa.update(_table).where(_table.c.name == NAME).values(config=edit(dict(row.config))))


def upgrade() -> None:
    _change(lambda config: {**config, "sync_ms": config.get("sync_ms", SYNC_MS)})


def downgrade() -> None:
    _change(lambda config: {name: value for name, value in config.items() if name != "sync_ms"})
