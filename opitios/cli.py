"""The ``opitios`` command: database, configuration, key, error-log and description commands.

A plain click group, not Flask's: Flask's would build the whole app (and open
the database) just to print ``--help``. Each command opens what it needs, and
no more; only the commands that build the app import it, since importing it
creates the Prometheus metrics, which write files under the deployment's
PROMETHEUS_MULTIPROC_DIR (a migration or a key command must leave that alone).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import click
from marshmallow import ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from opitios import migrate, openapi_shapes
from opitios.access.keys import create_key, list_keys, revoke_key
from opitios.config import settings_from_env
from opitios.db import database_url, make_engine
from opitios.models import ApiConfiguration, ErrorLog
from opitios.registry import available
from opitios.runtime.schema import DEFAULTS, validate_section


@click.group()
def main() -> None:
    """Operate opitios (try: opitios db upgrade, opitios config show, opitios errors tail)."""


def _url() -> str:
    return database_url(settings_from_env()["DATABASE_URL"])


@contextmanager
def _engine() -> Iterator[Engine]:
    engine = make_engine(_url())
    try:
        yield engine
    finally:
        engine.dispose()


def _fail(message: str) -> None:
    raise click.ClickException(message)


@main.command("openapi")
@click.option("--shapes", is_flag=True, help="Only the shapes, for review: no prose, a node to a line where it fits.")
def openapi_command(shapes: bool) -> None:
    """Print the OpenAPI 3 description of the API (JSON), e.g. `opitios openapi > openapi.json`.

    `opitios openapi --shapes > tests/openapi_snapshot.json` renews the snapshot the tests hold the API to.
    """
    from opitios.app import create_app  # here, not at the top: see the module's docstring
    from opitios.openapi import build_spec

    app = create_app(connect=False)  # the routes and schemas only: the description needs no database
    with app.app_context():
        spec = build_spec(app)
    click.echo(openapi_shapes.reviewable(openapi_shapes.shapes(spec)) if shapes else json.dumps(spec, indent=2))


@main.command("providers")
def providers_command() -> None:
    """List the installed providers (the opitios.providers entry-point group)."""
    for name, entry in available().items():
        click.echo(f"{name}\t{entry.value}")


@main.command("stream")
def stream_command() -> None:
    """Keep hot stock quotes fresh from the upstream's market-data stream (one connection per deployment).

    Run one per instance: they share a lease in Redis and only its holder connects.
    """
    from opitios.app import create_app, stop_background  # here, not at the top: see the module's docstring
    from opitios.stream.streamer import serve

    app = create_app()
    try:
        serve(app)
    except RuntimeError as error:
        _fail(str(error))
    finally:
        stop_background(app)


# -- db ------------------------------------------------------------------------------------------


@main.group("db")
def db_group() -> None:
    """Apply and show the Alembic migrations (DATABASE_URL, default the SQLite file in instance/)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: head)."""
    migrate.upgrade(_url(), revision)


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (``base`` removes every table)."""
    migrate.downgrade(_url(), revision)


@db_group.command("current")
def db_current() -> None:
    """Show the revision the database is at."""
    migrate.current(_url())


# -- config --------------------------------------------------------------------------------------


@main.group("config")
def config_group() -> None:
    """Show, change and validate the runtime configuration (the api_configurations table)."""


def _rows(engine: Engine) -> dict[str, ApiConfiguration]:
    try:
        with engine.connect() as connection:
            return {row.name: row for row in connection.execute(select(ApiConfiguration)).all()}
    except SQLAlchemyError as error:
        _fail(f"cannot read api_configurations: {error.__class__.__name__} (run: opitios db upgrade)")


def _parse(assignment: str) -> tuple[str, object]:
    key, sep, text = assignment.partition("=")
    if not sep or not key:
        _fail(f"expected KEY=VALUE, got {assignment!r}")
    try:
        return key, json.loads(text)
    except ValueError:
        return key, text  # a bare word is a string


@config_group.command("show")
def config_show() -> None:
    """Print the configuration in force (rows over defaults); a row that does not validate is shown as refused."""
    with _engine() as engine:
        rows = _rows(engine)
    effective, refused = {}, {}
    for name, defaults in DEFAULTS.items():
        row = rows.get(name)
        if row is None or not row.is_active:
            effective[name] = defaults
            continue
        try:
            effective[name] = validate_section(name, row.config, available)
        except ValidationError as error:
            effective[name] = "each worker keeps its last good values (see /api/v1/health/ready)"
            refused[name] = error.messages
    refused.update({name: "unknown section" for name in rows if name not in DEFAULTS})
    click.echo(json.dumps({"in_force": effective, "refused": refused}, indent=2, default=str))


@config_group.command("set")
@click.argument("name")
@click.argument("assignments", nargs=-1, required=True)
def config_set(name: str, assignments: tuple[str, ...]) -> None:
    """Set KEY=VALUE pairs (VALUE is JSON, or a bare string) in section NAME, after validating them."""
    with _engine() as engine:
        row = _rows(engine).get(name)
        config = dict(row.config) if row is not None else {}
        config.update(_parse(assignment) for assignment in assignments)
        try:
            validate_section(name, config, available)
        except ValidationError as error:
            _fail(f"not written: {json.dumps(error.messages)}")
        table = ApiConfiguration.__table__
        with engine.begin() as connection:
            if row is None:
                connection.execute(table.insert().values(name=name, config=config))
            else:
                connection.execute(table.update().where(table.c.name == name).values(config=config))
    click.echo(f"{name}: {json.dumps(config)}")


@config_group.command("validate")
def config_validate() -> None:
    """Check every row; exit 1 when any would be refused."""
    bad = 0
    with _engine() as engine:
        rows = _rows(engine)
    for name, row in sorted(rows.items()):
        try:
            validate_section(name, row.config, available)
            click.echo(f"ok       {name}")
        except ValidationError as error:
            bad += 1
            click.echo(f"refused  {name}: {json.dumps(error.messages)}")
    if bad:
        raise SystemExit(1)


# -- keys --------------------------------------------------------------------------------------------


@main.group("keys")
def keys_group() -> None:
    """Issue, list and revoke API keys (only their hashes are stored)."""


@keys_group.command("create")
@click.option("--name", required=True, help="who or what the key is for")
@click.option("--scopes", default="read", show_default=True, help="comma-separated: read, trade, admin")
def keys_create(name: str, scopes: str) -> None:
    """Create a key and print it once; it cannot be shown again."""
    wanted = [scope.strip() for scope in scopes.split(",") if scope.strip()]
    with _engine() as engine:
        try:
            key, prefix = create_key(engine, name, wanted)
        except ValueError as error:
            _fail(str(error))
        except SQLAlchemyError as error:
            _fail(f"cannot write api_keys: {error.__class__.__name__} (run: opitios db upgrade)")
    click.echo(f"prefix {prefix}, scopes {','.join(wanted)}; the key (shown only now):")
    click.echo(key)


@keys_group.command("list")
def keys_list() -> None:
    """Prefixes, names, scopes and dates; never the keys."""
    with _engine() as engine:
        for row in list_keys(engine):
            state = f"revoked {row.revoked_at}" if row.revoked_at else "live"
            click.echo(f"{row.prefix}  {','.join(row.scopes):<16} {state:<10} created {row.created_at}  "
                       f"last used {row.last_used_at or 'never'}  {row.name}")


@keys_group.command("revoke")
@click.argument("prefix")
def keys_revoke(prefix: str) -> None:
    """Revoke the key with PREFIX; every worker refuses it within config_refresh_seconds."""
    with _engine() as engine:
        if not revoke_key(engine, prefix):
            _fail(f"no live key with prefix {prefix!r}")
    click.echo(f"revoked {prefix}")


# -- errors --------------------------------------------------------------------------------------


@main.group("errors")
def errors_group() -> None:
    """Read the error_logs table."""


@errors_group.command("tail")
@click.option("-n", "--lines", default=20, show_default=True, help="how many of the newest rows")
def errors_tail(lines: int) -> None:
    """Show the newest error rows, oldest first."""
    query = select(ErrorLog).order_by(ErrorLog.id.desc()).limit(lines)
    try:
        with _engine() as engine, engine.connect() as connection:
            rows = list(reversed(connection.execute(query).all()))
    except SQLAlchemyError as error:
        _fail(f"cannot read error_logs: {error.__class__.__name__}")
    for row in rows:
        click.echo(f"{row.created_at}  {row.http_status} {row.error_code:<30} {row.method} {row.endpoint}  {row.request_id}  {row.message}")
