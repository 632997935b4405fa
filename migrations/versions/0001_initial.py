"""Initial tables: api_configurations (seeded with the defaults), error_logs, api_keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""


import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NOW = sa.func.now()

# The runtime configuration's defaults as of this revision, one row per section, so an
# operator finds every tunable in the table. Later code defaults do not rewrite these rows.
SEED = {
    "cache_ttl": (
        "Seconds an answer stays fresh in the cache, per data class, market open and closed",
        {
            "stock_quote_open": 5,
            "stock_quote_closed": 300,
            "option_quote_open": 15,
            "option_quote_closed": 300,
            "option_chain_open": 60,
            "option_chain_closed": 900,
            "bars_intraday_open": 60,
            "bars_intraday_closed": 3600,
            "bars_daily_open": 3600,
            "bars_daily_closed": 86400,
            "refresh_ahead_window": 60,
        },
    ),
    "limits": ("Symbols per batch request; seconds a stale answer may stand in for a failed upstream",
               {"max_batch_symbols": 20, "stale_if_error_seconds": 300}),
    "upstream": ("Upstream requests per minute for all workers; circuit breaker; provider (null: OPITIOS_PROVIDER)",
                 {"requests_per_minute": 190, "circuit_failures": 5, "circuit_open_seconds": 60, "provider": None}),
    "rate_limits": ("Client request limits", {"anonymous_per_hour": 100, "keyed_per_hour": 1000, "keyed_per_minute": 120}),
    "access": ("Whether market-data routes answer without an API key", {"public_market_data": False}),
    "runtime": ("Seconds between each worker's reads of this table", {"config_refresh_seconds": 5}),
}


def upgrade() -> None:
    configurations = op.create_table(
        "api_configurations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("config", JSON_DOCUMENT, nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_configurations")),
        sa.UniqueConstraint("name", name=op.f("uq_api_configurations_name")),
    )
    op.create_table(
        "error_logs",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.String(length=512), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("context", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_error_logs")),
    )
    op.create_index(op.f("ix_error_logs_created_at"), "error_logs", ["created_at"])
    op.create_index(op.f("ix_error_logs_error_code"), "error_logs", ["error_code"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("scopes", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.bulk_insert(
        configurations,
        [{"name": name, "description": text, "config": config} for name, (text, config) in SEED.items()],
    )


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_index(op.f("ix_error_logs_error_code"), table_name="error_logs")
    op.drop_index(op.f("ix_error_logs_created_at"), table_name="error_logs")
    op.drop_table("error_logs")
    op.drop_table("api_configurations")
