"""The ``cei`` command (a Flask CLI bound to the CEI app) and CEI's own subcommands."""

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate import upgrade


def register_commands(app):
    """Add CEI's commands to ``flask``/``cei``."""
    from cei.tasks.commands import dispatch, worker
    from cei.tasks.report_commands import reports_cli

    app.cli.add_command(init_db)
    app.cli.add_command(reports_cli)
    app.cli.add_command(list_plugins)
    app.cli.add_command(rollups_group)
    app.cli.add_command(worker)
    app.cli.add_command(dispatch)
    app.cli.add_command(demo)


# The migration that added the hourly rollups; it creates them empty.
ROLLUPS_REVISION = "0003_rollups"


@click.command("init-db")
@with_appcontext
def init_db():
    """Create or upgrade the database schema to the latest migration.

    A database migrated from before the rollups had readings but no rollups: they are
    built from the readings once the schema is current.
    """
    backfill = _predates(ROLLUPS_REVISION)
    upgrade()
    click.echo("database schema is up to date")
    if backfill:
        from cei.extensions import db
        from cei.services import rollups

        count = rollups.rebuild_rollups(db.session.connection())
        db.session.commit()
        click.echo(f"rollups rebuilt for {count} site(s) (their readings predate the rollups)")


def _predates(revision):
    """Tell whether the database has a schema older than migration ``revision``."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from cei.extensions import db

    config = current_app.extensions["migrate"].migrate.get_config()
    with db.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        return False  # an empty database: nothing to build
    applied = ScriptDirectory.from_config(config).iterate_revisions(current, "base")
    return revision not in {script.revision for script in applied}


@click.command("plugins")
@with_appcontext
def list_plugins():
    """List the analytics plugins: name, version, requires, enabled or disabled, source."""
    registry = current_app.extensions["cei.analytics"]
    rows = [("NAME", "VERSION", "REQUIRES", "STATUS", "SOURCE")]
    for spec in sorted(registry.specs.values(), key=lambda spec: spec.name):
        status = "enabled" if spec.enabled else "disabled"
        rows.append((spec.name, spec.version, ",".join(spec.requires) or "-", status, spec.source))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]))
    for problem in registry.ignored:
        click.echo(f"disabled and broken: {problem}")
    click.echo(f"run order: {', '.join(registry.order) or '(none enabled)'}")
@click.group("rollups")
def rollups_group():
    """Hourly rollups of the readings."""


@rollups_group.command("rebuild")
@click.option("--site", "site_id", help="Rebuild only this site (its external site_id).")
@click.option("--org", "organization_id", type=int, help="Rebuild only this organization's sites.")
@with_appcontext
def rebuild_rollups(site_id, organization_id):
    """Recompute rollups from the readings (all sites unless --site / --org) and commit."""
    from sqlalchemy import select

    from cei.extensions import db
    from cei.models import Site
    from cei.services import rollups

    connection = db.session.connection()
    if site_id is None:
        count = rollups.rebuild_rollups(connection, organization_id=organization_id)
    else:
        query = select(Site.id).where(Site.site_id == site_id)
        if organization_id is not None:
            query = query.where(Site.organization_id == organization_id)
        site_pks = db.session.scalars(query).all()
        if not site_pks:
            raise click.ClickException(f"no site {site_id!r}")
        count = sum(rollups.rebuild_rollups(connection, site_pk) for site_pk in site_pks)
    db.session.commit()
    click.echo(f"rollups rebuilt for {count} site(s)")
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
