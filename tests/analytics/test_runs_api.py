"""Analysis runs through the API: queue on demand (202), follow, list; tenancy."""

from cei.extensions import db
from cei.models import AnalysisRun
from tests.analytics import fakes
from tests.analytics.conftest import use_plugins


def test_queue_a_run_then_follow_it(client, account, factory):
    headers = account["headers"]
    response = client.post("/api/v1/analytics/run", json={"site_id": "plant-1"}, headers=headers)
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    (run_id,) = body["run_ids"]
    assert body["runs"][0]["status"] == "queued" and body["runs"][0]["trigger"] == "manual"
    # Asking again while it waits answers with the same run.
    again = client.post("/api/v1/analytics/run", json={"site_id": "plant-1"}, headers=headers)
    assert again.get_json()["run_ids"] == [run_id]
    shown = client.get(f"/api/v1/analytics/runs/{run_id}", headers=headers).get_json()
    assert shown["site_id"] == "plant-1" and shown["status"] == "queued"


def test_inline_jobs_run_inside_the_request(make_app, client, account, factory, frozen_clock):
    inline = make_app(JOBS_INLINE=True)
    use_plugins(inline, fakes.STANDARD)
    response = inline.test_client().post(
        "/api/v1/analytics/run", json={}, headers=account["headers"]
    )
    assert response.status_code == 202
    (run,) = response.get_json()["runs"]
    assert run["status"] == "succeeded", run
    assert run["plugins"]["baseline"]["status"] == "ok"
    assert run["duration_ms"] >= 0 and run["started_at"] and run["finished_at"]
    kpis = client.get("/api/v1/sites/plant-1/kpis", headers=account["headers"]).get_json()
    assert kpis["run_id"] == run["id"] and kpis["last_24h_kwh"] == 240.0


def test_every_site_without_site_id(client, account, factory, make_site):
    make_site("plant-2")
    response = client.post("/api/v1/analytics/run", headers=account["headers"])
    assert response.status_code == 202
    assert [run["site_id"] for run in response.get_json()["runs"]] == ["plant-1", "plant-2"]


def test_list_runs_with_filters(client, account, factory, analyse):
    _, site_pk = factory
    analyse(site_pk)
    client.post("/api/v1/analytics/run", json={"site_id": "plant-1"}, headers=account["headers"])
    body = client.get("/api/v1/analytics/runs", headers=account["headers"]).get_json()
    assert body["total"] == 2
    assert [run["status"] for run in body["items"]] == ["queued", "succeeded"]
    queued = client.get(
        "/api/v1/analytics/runs?status=queued&site_id=plant-1", headers=account["headers"]
    ).get_json()
    assert queued["total"] == 1


def test_errors_tokens_and_tenancy(app, client, api, account, factory):
    headers = account["headers"]
    missing = client.post("/api/v1/analytics/run", json={"site_id": "nope"}, headers=headers)
    assert missing.status_code == 404 and missing.get_json()["code"] == "NOT_FOUND"
    bad = client.post("/api/v1/analytics/run", json={"site_id": ""}, headers=headers)
    assert bad.status_code == 422
    run_id = client.post("/api/v1/analytics/run", json={}, headers=headers).get_json()["run_ids"][0]
    reader = api.make_token(account, scopes=["read"])
    token = {"Authorization": f"Bearer {reader['token']}"}
    assert client.get(f"/api/v1/analytics/runs/{run_id}", headers=token).status_code == 200
    assert client.post("/api/v1/analytics/run", json={}, headers=token).status_code == 403
    other = api.signup(email="other@example.com", org="Other Works")
    response = client.get(f"/api/v1/analytics/runs/{run_id}", headers=other["headers"])
    assert response.status_code == 404
    assert client.get("/api/v1/analytics/runs", headers=other["headers"]).get_json()["total"] == 0
    assert client.get("/api/v1/analytics/runs/999999", headers=headers).status_code == 404
    with app.app_context():
        assert db.session.get(AnalysisRun, run_id).status == "queued"
