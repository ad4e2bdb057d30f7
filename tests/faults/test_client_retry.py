"""The factory client (a subprocess, real HTTP) while the server's database fails."""

import pytest

from tests.client.conftest import (
    METER,
    SITE,
    LiveServer,
    clear_of_hour_boundary,
    ramp_values,
    run_factory_client,
    sign_up,
    spooled,
    stored,
    summary,
)
from tests.faults.conftest import through

pytestmark = pytest.mark.postgres


@pytest.fixture
def served(make_app, app, serve, pg_proxy, postgres_url):
    """CEI over HTTP whose database sits behind ``pg_proxy`` (asks clients to wait 1 s)."""
    proxied = make_app(DATABASE_URL=through(pg_proxy, postgres_url), DATABASE_RETRY_AFTER=1)
    server = LiveServer(serve(proxied))
    return server, sign_up(server, "manager@faulty.example", "Faulty factory")


def client_run(server, account, spool_dir, cwd, retries=2):
    return run_factory_client(
        SITE,
        METER,
        24,
        env={
            "CEI_BASE_URL": server.url,
            "CEI_INT_TOKEN": account.integration_token,
            "CEI_CLIENT_SPOOL_DIR": str(spool_dir),
            "CEI_CLIENT_RETRIES": str(retries),
            "CEI_CLIENT_BACKOFF": "0.01",
            "CEI_CLIENT_TIMEOUT": "10",
        },
        cwd=cwd,
    )


def test_a_batch_committed_but_answered_503_is_retried_and_stored_once(
    served, pg_proxy, table_counts, tmp_path
):
    server, account = served
    clear_of_hour_boundary()
    before = table_counts()["readings"]
    # The database commits the batch but the app never hears back: it answers 503, and
    # the database stays away for half a second.
    pg_proxy.cut_when(b"COMMIT\x00", forward_first=True, after=b"ingest_stage", down_for=0.5)

    result = client_run(server, account, tmp_path / "spool", tmp_path)

    assert pg_proxy.tripped.is_set()
    assert result.returncode == 0, result.output
    assert "HTTP 503 DATABASE_UNAVAILABLE" in result.stderr and "retry 1/2" in result.stderr
    # The retry finds every reading stored: duplicates, not new rows, not conflicts.
    assert result.summary == summary(0, 24, 0)
    assert table_counts()["readings"] == before + 24
    assert stored(account, SITE, METER) == ramp_values(24)
    assert spooled(tmp_path / "spool") == []


def test_database_down_for_the_whole_run_spools_and_the_next_run_stores_once(
    served, pg_proxy, table_counts, tmp_path
):
    server, account = served
    clear_of_hour_boundary()
    before = table_counts()["readings"]
    spool = tmp_path / "spool"
    pg_proxy.cut()

    down = client_run(server, account, spool, tmp_path, retries=1)

    assert down.returncode == 2, down.output
    assert down.summary == summary(0, 0, 0, spool=24)
    assert [len(batch) for batch in spooled(spool)] == [24]
    assert table_counts()["readings"] == before

    pg_proxy.restore()
    back = client_run(server, account, spool, tmp_path)

    assert back.returncode == 0, back.output
    # The spooled batch goes first and stores the 24 hours; the run's own batch (the same
    # hours, the same values) finds them stored.
    assert back.summary == summary(24, 24, 0)
    assert spooled(spool) == []
    assert table_counts()["readings"] == before + 24
    assert stored(account, SITE, METER) == ramp_values(24)
