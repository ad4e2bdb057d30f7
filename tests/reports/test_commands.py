"""``cei reports weekly`` and ``cei reports generate``."""

from datetime import UTC, datetime

from sqlalchemy import select, update

from cei.extensions import db
from cei.models import Organization, Report
from tests.reports.conftest import create_site


def test_generate_writes_the_files(make_app, fake_analytics, tmp_path):
    from tests.conftest import ApiHelper, _empty_tables

    app = make_app(ANALYTICS_BACKGROUND=False)
    with app.app_context():
        _empty_tables()
    account = ApiHelper(app.test_client()).signup()
    create_site(app, account)
    pdf, csv = tmp_path / "r.pdf", tmp_path / "r.csv"
    result = app.test_cli_runner().invoke(
        args=[
            "reports",
            "generate",
            "--organization-id",
            str(account["organization"]["id"]),
            "--site",
            "plant-1",
            "--period-end",
            "2026-11-22",
            "--pdf",
            str(pdf),
            "--csv",
            str(csv),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "succeeded (2026-11-16 to 2026-11-22)" in result.output
    assert pdf.read_bytes().startswith(b"%PDF") and csv.read_bytes().startswith(b"\xef\xbb\xbf")
    bad = app.test_cli_runner().invoke(args=["reports", "generate", "--organization-id", "999999"])
    assert bad.exit_code != 0 and "no organization" in bad.output


def test_weekly_queues_each_organization_once(make_app, monkeypatch):
    from cei.services.reports import jobs
    from tests.conftest import ApiHelper, _empty_tables

    app = make_app(ANALYTICS_BACKGROUND=False)
    with app.app_context():
        _empty_tables()
    account = ApiHelper(app.test_client()).signup()
    with app.app_context():
        db.session.execute(update(Organization).values(created_at=datetime(2026, 1, 1, tzinfo=UTC)))
        db.session.commit()
    real = jobs.queue_weekly_reports
    monkeypatch.setattr(
        jobs,
        "queue_weekly_reports",
        lambda now=None: real(datetime(2026, 11, 23, 7, 0, tzinfo=UTC)),
    )
    runner = app.test_cli_runner()
    first = runner.invoke(args=["reports", "weekly"]).output
    assert "weekly reports queued: 1, handed to the job queue: 0" in first  # no background here
    again = runner.invoke(args=["reports", "weekly"]).output
    assert "weekly reports queued: 0" in again
    with app.app_context():
        rows = db.session.scalars(select(Report)).all()
        assert [(r.organization_id, r.trigger, str(r.period_last)) for r in rows] == [
            (account["organization"]["id"], "scheduled", "2026-11-22")
        ]
