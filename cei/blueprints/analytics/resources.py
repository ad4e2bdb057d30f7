"""Analysis runs: ``/api/v1/analytics``.

Sites are analysed automatically shortly after new data arrives and at least hourly; these
endpoints queue a run on demand and show what ran.
"""

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from cei.blueprints.analytics.schemas import (
    RunListArgsSchema,
    RunListSchema,
    RunRequestSchema,
    RunSchema,
    RunsQueuedSchema,
)
from cei.blueprints.errors import service_errors
from cei.extensions import db
from cei.security import authenticated, current_organization
from cei.services import sites
from cei.services.analytics import runs
from cei.tasks.dispatcher import hand_over_now

blp = Blueprint("analytics", __name__, url_prefix="/api/v1/analytics", description="Analysis runs")


def _site(site_id):
    with service_errors():
        return sites.get_site(current_organization(), site_id)


@blp.route("/run")
class RunAnalysis(MethodView):
    @blp.response(202, RunsQueuedSchema)
    @authenticated(users_only=True)
    @blp.arguments(RunRequestSchema, required=False)
    def post(self, data):
        """Queue an analysis of a site, or of every site

        ---
        Answers 202 with the queued runs; follow one with `GET /api/v1/analytics/runs/<id>`.
        A site that already has a run waiting answers with that run (it will read the same
        data), so asking twice does not analyse twice.
        """
        site = _site(data["site_id"]) if data and data.get("site_id") else None
        queued = runs.request_runs(current_organization(), site)
        db.session.commit()
        hand_over_now(
            current_app._get_current_object(),
            [(run.id, run.site_pk) for run in queued if run.status == "queued"],
        )
        for run in queued:
            db.session.refresh(run)
        return {"run_ids": [run.id for run in queued], "runs": queued}


@blp.route("/runs")
class Runs(MethodView):
    @blp.response(200, RunListSchema)
    @authenticated(scope="read")
    @blp.arguments(RunListArgsSchema, location="query")
    def get(self, args):
        """List analysis runs, newest first"""
        site = _site(args["site_id"]) if args.get("site_id") else None
        total, items = runs.list_runs(
            current_organization(), site, args.get("status"), args["limit"], args["offset"]
        )
        return {"total": total, "limit": args["limit"], "offset": args["offset"], "items": items}


@blp.route("/runs/<int:run_id>")
class RunById(MethodView):
    @blp.response(200, RunSchema)
    @authenticated(scope="read")
    def get(self, run_id):
        """Show an analysis run: status, timing, error and each plugin's outcome"""
        with service_errors():
            return runs.get_run(current_organization(), run_id)
