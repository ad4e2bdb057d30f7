"""The ``cei`` command (a Flask CLI bound to the CEI app) and CEI's own subcommands."""

import click
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate import upgrade


def register_commands(app):
    """Add CEI's commands to ``flask``/``cei``."""
    app.cli.add_command(init_db)
    app.cli.add_command(demo)


@click.command("init-db")
@with_appcontext
def init_db():
    """Create or upgrade the database schema to the latest migration."""
    upgrade()
    click.echo("database schema is up to date")


@click.command("demo")
@with_appcontext
def demo():
    """Create (once) a demo organization with 90 days of data for three sites, and top it up."""
    from cei.extensions import db
    from cei.services.demo import seed_demo

    result = seed_demo()
    db.session.commit()
    state = "created" if result.created else "topped up"
    click.echo(
        f"demo organization {state}: {result.ingested} new readings "
        f"({result.skipped_duplicate} already stored)"
    )
    click.echo(f"demo login: {result.email} / {result.password}")


def _create_app():
    from cei import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app)
def cli():
    """CEI management commands (run, init-db, db …)."""


def main():
    """Entry point of the ``cei`` console script."""
    cli()
