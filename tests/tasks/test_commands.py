"""``cei dispatch`` and ``cei worker`` from the command line."""

from cei.extensions import db
from cei.models import SiteAnalysis
from cei.tasks.commands import dispatch, worker
from tests.analytics import fakes
from tests.analytics.conftest import hourly, use_plugins


def test_dispatch_inline_analyses_due_sites(app, two_sites, write_readings, runs_of, frozen_clock):
    a_ref, a_pk = two_sites["a"]
    write_readings(a_ref.meters["main"], hourly(hours=48), [a_pk])
    result = app.test_cli_runner().invoke(dispatch, ["--inline"])
    assert result.exit_code == 0, result.output
    assert "due=1" in result.output and "analysed=2 failed=0" in result.output
    assert runs_of(a_pk) == [("succeeded", "new_data")]


def test_worker_needs_redis(app):
    result = app.test_cli_runner().invoke(worker, ["--burst"])
    assert result.exit_code != 0 and "CEI_REDIS_URL" in result.output


def test_worker_burst_dispatches_and_works(
    make_app, redis_url, account, two_sites, write_readings, runs_of, frozen_clock
):
    app = make_app(REDIS_URL=redis_url)
    use_plugins(app, fakes.STANDARD)
    a_ref, a_pk = two_sites["a"]
    write_readings(a_ref.meters["main"], hourly(hours=48), [a_pk])
    result = app.test_cli_runner().invoke(worker, ["--burst"])
    assert result.exit_code == 0, result.output
    assert runs_of(a_pk) == [("succeeded", "new_data")]
    with app.app_context():
        assert db.session.get(SiteAnalysis, a_pk).kpis["last_24h_kwh"] == 240.0
