"""The ``cei`` command (a Flask CLI bound to the CEI app) and CEI's own subcommands."""

import click
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate import upgrade


def register_commands(app):
    """Add CEI's commands to ``flask``/``cei``."""
    from cei.tasks.commands import dispatch, worker

    app.cli.add_command(init_db)
    app.cli.add_command(worker)
    app.cli.add_command(dispatch)


@click.command("init-db")
@with_appcontext
def init_db():
    """Create or upgrade the database schema to the latest migration."""
    upgrade()
    click.echo("database schema is up to date")


def _create_app():
    from cei import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app)
def cli():
    """CEI management commands (run, init-db, db …)."""


def main():
    """Entry point of the ``cei`` console script."""
    cli()
