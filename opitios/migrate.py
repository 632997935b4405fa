"""Alembic driven from code: the CLI and the tests apply the same migrations as `alembic` would."""

from __future__ import annotations

import sys

from alembic import command
from alembic.config import Config

from opitios.db import PROJECT_ROOT


def alembic_config(url: str, *, quiet: bool = False) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"), stdout=sys.stdout)  # the stdout of now, not of import time
    config.attributes["url"] = url
    config.attributes["configure_logger"] = not quiet
    return config


def upgrade(url: str, revision: str = "head", *, quiet: bool = False) -> None:
    command.upgrade(alembic_config(url, quiet=quiet), revision)


def downgrade(url: str, revision: str, *, quiet: bool = False) -> None:
    command.downgrade(alembic_config(url, quiet=quiet), revision)


def current(url: str) -> None:
    command.current(alembic_config(url))
