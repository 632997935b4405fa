"""The ``opitios`` command: Flask's CLI on our app factory, plus our own commands."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from opitios import create_app
from opitios.registry import available


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def main() -> None:
    """Operate opitios (try: opitios providers, opitios routes)."""


@main.command("providers", with_appcontext=False)
def providers_command() -> None:
    """List the installed providers (the opitios.providers entry-point group)."""
    for name, entry in available().items():
        click.echo(f"{name}\t{entry.value}")
