"""Findings become alerts once per condition and period, however often the analysis runs."""

from datetime import timedelta

from sqlalchemy import func, select

from cei.extensions import db
from cei.models import Alert, Organization, Site
from cei.services.analytics import alerts
from tests.analytics.conftest import END, HOUR, NOW, hourly

SPIKES = {END - 30 * HOUR: 50.0, END - 100 * HOUR: 45.0}


def all_alerts(app):
    with app.app_context():
        return db.session.scalars(select(Alert).order_by(Alert.kind, Alert.period_start)).all()


def test_thirty_analyses_leave_one_alert_per_condition(
    app, make_site, add_readings, site_pk_of, plugins, analyse
):
    ref = make_site("plant-1", meters=[("main", True, 60), ("sub", False, 60)])
    add_readings(ref.meters["main"], hourly(spikes=SPIKES))
    # The sub-meter stopped 10 hours ago: an ongoing condition.
    add_readings(ref.meters["sub"], hourly(value=1.0, end=END - 9 * HOUR))
    site_pk = site_pk_of("plant-1")
    for _ in range(30):
        analyse(site_pk)
    found = all_alerts(app)
    assert sorted((alert.kind, alert.occurrences) for alert in found) == [
        ("meter_silent", 30),
        ("spike", 30),
        ("spike", 30),
    ]
    spike = next(alert for alert in found if alert.period_start.timestamp() == END - 30 * HOUR)
    assert spike.kwh_impact == 42.0  # 50 against 8 expected
    assert spike.cost_impact == round(42.0 * 0.20, 2)
    assert spike.co2e_kg_impact == round(42.0 * 0.21, 4)
    assert spike.details["plugin"] == "finder"
    assert spike.status == "open"
    silent = next(alert for alert in found if alert.kind == "meter_silent")
    assert silent.meter_id == "sub" and silent.severity == "critical"


def test_alerts_off_in_the_plan_records_none(app, factory, analyse):
    _, site_pk = factory
    with app.app_context():
        site = db.session.get(Site, site_pk)
        db.session.get(Organization, site.organization_id).enable_alerts = False
        db.session.commit()
    analyse(site_pk)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Alert)) == 0


def _resolve(app, alert_id, status="resolved", at=NOW + timedelta(minutes=5)):
    with app.app_context():
        alert = db.session.get(Alert, alert_id)
        alerts.change_alert(alert, None, status=status, note="handled", now=at)
        db.session.commit()


def test_resolved_fixed_period_stays_resolved_and_ongoing_reopens(
    app, make_site, add_readings, site_pk_of, plugins, analyse
):
    ref = make_site("plant-1", meters=[("main", True, 60), ("sub", False, 60)])
    add_readings(ref.meters["main"], hourly(spikes=SPIKES))
    add_readings(ref.meters["sub"], hourly(value=1.0, end=END - 9 * HOUR))
    site_pk = site_pk_of("plant-1")
    analyse(site_pk)
    by_kind = {}
    for alert in all_alerts(app):
        by_kind.setdefault(alert.kind, alert.id)
    _resolve(app, by_kind["spike"])
    _resolve(app, by_kind["meter_silent"])
    # An hour later: the spike is the same past hour; the meter is still silent.
    analyse(site_pk, now=NOW + timedelta(hours=1))
    with app.app_context():
        spike = db.session.get(Alert, by_kind["spike"])
        silent = db.session.get(Alert, by_kind["meter_silent"])
        assert spike.status == "resolved" and spike.occurrences == 2
        assert silent.status == "open" and silent.reopened == 1
        assert silent.resolved_at is None
        assert silent.notes[-1].text.startswith("Re-opened by the analysis")
        assert silent.notes[-1].user_id is None
    # Muted stays muted while the condition goes on.
    _resolve(app, by_kind["meter_silent"], "muted", at=NOW + timedelta(minutes=65))
    analyse(site_pk, now=NOW + timedelta(hours=2))
    with app.app_context():
        assert db.session.get(Alert, by_kind["meter_silent"]).status == "muted"
    # Still one alert per condition; the main meter, silent for over 3 hours by now, is new.
    assert sorted((alert.kind, alert.meter_id or "") for alert in all_alerts(app)) == [
        ("meter_silent", "main"),
        ("meter_silent", "sub"),
        ("spike", ""),
        ("spike", ""),
    ]
