"""CLI: ``cei reports weekly`` (queue the due weekly reports) and ``cei reports generate``."""

import click
from flask import current_app
from flask.cli import with_appcontext

from cei.extensions import db
from cei.models import Organization, Report
from cei.services.errors import ServiceError
from cei.services.reports import jobs
from cei.tasks import reports as report_tasks


@click.group("reports")
def reports_cli():
    """7-day reports: the weekly schedule, and one report now."""


@reports_cli.command("weekly")
@with_appcontext
def weekly():
    """Queue this week's portfolio report for every organization due one, and hand them over."""
    app = current_app._get_current_object()
    queued, handed = report_tasks.schedule_weekly(app)
    click.echo(f"weekly reports queued: {len(queued)}, handed to the job queue: {len(handed)}")


@reports_cli.command("generate")
@click.option("--organization-id", type=int, required=True)
@click.option("--site", "site_id", help="A site_id; without it, the portfolio.")
@click.option(
    "--period-end", type=click.DateTime(["%Y-%m-%d"]), help="Last day (default yesterday)."
)
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False, writable=True))
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def generate(organization_id, site_id, period_end, pdf_path, csv_path):
    """Generate one report here and now; optionally write its PDF and CSV to files."""
    organization = db.session.get(Organization, organization_id)
    if organization is None:
        raise click.UsageError(f"no organization {organization_id}")
    last = period_end.date() if period_end else None
    try:
        report = jobs.request_report(organization, site_id=site_id, period_end=last)
    except ServiceError as exc:
        raise click.UsageError(exc.message) from exc
    db.session.commit()
    outcome = report_tasks.execute(report.id)
    report = db.session.get(Report, report.id)
    click.echo(f"report {report.id} {outcome} ({report.period_first} to {report.period_last})")
    if outcome != "succeeded":
        raise click.ClickException(report.error or outcome)
    for path, content in ((pdf_path, report.pdf), (csv_path, report.csv)):
        if path:
            with open(path, "wb") as handle:
                handle.write(content)
            click.echo(f"wrote {path}")
