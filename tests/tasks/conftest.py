"""Fixtures of the job tests: those of the analytics tests, plus due-data helpers."""

import pytest
from sqlalchemy import func, select

from cei.extensions import db
from cei.models import AnalysisRun, DueAnalysis
from tests.analytics import conftest as analytics

account = analytics.account
make_site = analytics.make_site
add_readings = analytics.add_readings
plugins = analytics.plugins
site_pk_of = analytics.site_pk_of
factory = analytics.factory
analyse = analytics.analyse
frozen_clock = analytics.frozen_clock
write_readings = analytics.write_readings


@pytest.fixture
def two_sites(make_site, site_pk_of, plugins):
    """Two UTC sites with one main meter each and no data yet: ``{site_id: (ref, pk)}``."""
    refs = {name: make_site(name, meters=[("main", True, 60)]) for name in ("a", "b")}
    return {name: (ref, site_pk_of(name)) for name, ref in refs.items()}


@pytest.fixture
def runs_of(app):
    """Return ``runs_of(site_pk)``: ``[(status, trigger)]`` of the site's runs, oldest first."""

    def query(site_pk):
        with app.app_context():
            return [
                (run.status, run.trigger)
                for run in db.session.scalars(
                    select(AnalysisRun)
                    .where(AnalysisRun.site_pk == site_pk)
                    .order_by(AnalysisRun.id)
                )
            ]

    return query


@pytest.fixture
def due_count(app):
    """Return ``due_count()``: how many sites are marked due."""

    def count():
        with app.app_context():
            return db.session.scalar(select(func.count()).select_from(DueAnalysis))

    return count
