"""The weekly schedule: one portfolio report per organization and week, Monday 06:00 local."""

from datetime import UTC, date, datetime

from sqlalchemy import select, update

from cei.extensions import db
from cei.models import Organization, Report
from cei.services.reports import jobs

LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def organization(api, app, name, timezone, enable_reports=True, created_at=LONG_AGO):
    account = api.signup(org=name)
    with app.app_context():
        db.session.execute(
            update(Organization)
            .where(Organization.id == account["organization"]["id"])
            .values(timezone=timezone, enable_reports=enable_reports, created_at=created_at)
        )
        db.session.commit()
    return account["organization"]["id"]


def scheduled(app):
    with app.app_context():
        rows = db.session.execute(
            select(Report.organization_id, Report.period_first, Report.period_last, Report.kind)
            .where(Report.trigger == "scheduled")
            .order_by(Report.organization_id, Report.period_last)
        ).all()
        return [tuple(row) for row in rows]


def queue(app, now):
    with app.app_context():
        ids = jobs.queue_weekly_reports(now)
        db.session.commit()
        return ids


def test_weekly_reports_follow_each_organizations_monday_morning(app, api):
    rome = organization(api, app, "Rome", "Europe/Rome")
    new_york = organization(api, app, "New York", "America/New_York")
    organization(api, app, "No reports", "Europe/Rome", enable_reports=False)
    # 05:30 UTC on Monday 23 Nov: 06:30 in Rome (due), 00:30 in New York (not yet).
    monday = datetime(2026, 11, 23, 5, 30, tzinfo=UTC)
    organization(
        api, app, "Too new", "Europe/Rome", created_at=datetime(2026, 11, 23, 5, 1, tzinfo=UTC)
    )
    assert len(queue(app, monday)) == 2
    assert scheduled(app) == [
        (rome, date(2026, 11, 16), date(2026, 11, 22), "portfolio"),
        # New York's latest due week is still the one before.
        (new_york, date(2026, 11, 9), date(2026, 11, 15), "portfolio"),
    ]
    assert queue(app, monday) == []  # nothing twice
    # 11:00 UTC is 06:00 in New York: its week is due now.
    assert len(queue(app, datetime(2026, 11, 23, 11, 0, tzinfo=UTC))) == 1
    assert scheduled(app)[-1] == (new_york, date(2026, 11, 16), date(2026, 11, 22), "portfolio")


def test_the_first_monday_after_spring_forward(app, api):
    rome = organization(api, app, "Rome", "Europe/Rome")
    # Monday 30 March 2026, 06:00 CEST = 04:00 UTC (05:00 UTC the Monday before).
    assert queue(app, datetime(2026, 3, 30, 3, 59, tzinfo=UTC)) != []
    assert scheduled(app)[-1][1:3] == (date(2026, 3, 16), date(2026, 3, 22))
    assert len(queue(app, datetime(2026, 3, 30, 4, 0, tzinfo=UTC))) == 1
    assert scheduled(app)[-1] == (rome, date(2026, 3, 23), date(2026, 3, 29), "portfolio")


def test_a_dispatcher_pass_schedules_hands_over_and_fails_lost_jobs(make_app, fake_analytics):
    from datetime import timedelta

    from cei.tasks import reports as report_tasks
    from tests.conftest import ApiHelper, _empty_tables

    app = make_app(JOBS_INLINE=True)
    with app.app_context():
        _empty_tables()
    api = ApiHelper(app.test_client())
    organization(api, app, "Rome", "Europe/Rome")
    monday = datetime(2026, 11, 23, 5, 30, tzinfo=UTC)
    with app.app_context():
        stuck = Report(
            organization_id=db.session.scalar(select(Organization.id)),
            kind="portfolio",
            period_first=date(2026, 11, 9),
            period_last=date(2026, 11, 15),
            timezone="UTC",
            status="running",
            started_at=monday - timedelta(hours=1),
        )
        db.session.add(stuck)
        db.session.commit()
        stats = report_tasks.dispatch(app, monday)
        assert stats == {"reports_lost": 1, "reports_scheduled": 1, "reports_handed_over": 1}
        rows = db.session.scalars(select(Report).order_by(Report.id)).all()
        assert [(row.trigger, row.status) for row in rows] == [
            ("manual", "failed"),
            ("scheduled", "succeeded"),
        ]
        assert report_tasks.dispatch(app, monday) == {
            "reports_lost": 0,
            "reports_scheduled": 0,
            "reports_handed_over": 0,
        }


def test_the_weekly_report_waits_for_sunday_to_end_at_every_site(app, api):
    from cei.services import sites

    rome = organization(api, app, "Rome and Los Angeles", "Europe/Rome")
    with app.app_context():
        sites.create_site(db.session.get(Organization, rome), "la", timezone="America/Los_Angeles")
        db.session.commit()
    # Monday 06:30 in Rome is still Sunday 21:30 in Los Angeles: its Sunday is not over, so
    # the portfolio's week (each site's own local days) cannot be reported yet.
    assert queue(app, datetime(2026, 11, 23, 5, 30, tzinfo=UTC)) == []
    # 08:05 UTC is Monday 00:05 in Los Angeles: now the week has ended everywhere.
    assert len(queue(app, datetime(2026, 11, 23, 8, 5, tzinfo=UTC))) == 1
    assert scheduled(app) == [(rome, date(2026, 11, 16), date(2026, 11, 22), "portfolio")]
