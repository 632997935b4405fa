"""SQLAlchemy models: runtime configuration, error log rows and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, String, Text, func, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints make migrations portable: every backend gets the same names to alter or drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB on PostgreSQL (operators can edit it with jsonb_set), JSON text elsewhere.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")
# 64-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY KEY is already 64-bit and autoincrements only as INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Timestamp = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ApiConfiguration(Base):
    """One section of the runtime configuration, edited by operators (SQL or ``opitios config``)."""

    __tablename__ = "api_configurations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    description: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(server_default=true())
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now(), onupdate=func.now())


class ErrorLog(Base):
    """One error response, written off the request path."""

    __tablename__ = "error_logs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(128))
    error_code: Mapped[str] = mapped_column(String(64), index=True)
    http_status: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    endpoint: Mapped[str] = mapped_column(String(512))
    method: Mapped[str] = mapped_column(String(16))
    context: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now(), index=True)


class ApiKey(Base):
    """A client's API key: only a hash of the secret is kept, the prefix finds and names it."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[str]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(Timestamp)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp)
