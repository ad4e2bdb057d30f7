"""Reading data back: ``/api/v1/timeseries/{summary,series,export,coverage}``.

Every operation takes ``site_id``, an optional ``meter_id`` and a window (``window_hours``, or
``start``/``end``), answers only the caller's data, and works with read-scoped integration
tokens as well as user tokens.
"""

from flask import Response, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint

from cei.blueprints.errors import service_errors
from cei.blueprints.readings.schemas import (
    CoverageSchema,
    ReadArgsSchema,
    SeriesArgsSchema,
    SeriesSchema,
    SummarySchema,
)
from cei.extensions import db
from cei.security import authenticated, current_organization
from cei.services import coverage, export, readings, rollups, windows

blp = Blueprint(
    "readings",
    __name__,
    url_prefix="/api/v1/timeseries",
    description="Read readings back: summaries, series, CSV export, coverage",
)


def scope_and_window(args, totals=True):
    """Resolve the request's site, meter(s) and window (404 / 422 as the envelope)."""
    with service_errors():
        scope = readings.read_scope(
            current_organization(), args["site_id"], args.get("meter_id"), totals=totals
        )
        window = windows.resolve_window(
            args.get("window_hours"),
            args.get("start"),
            args.get("end"),
            offset=rollups.hour_offset(scope.site.timezone),
        )
    return scope, window


@blp.route("/summary")
class Summary(MethodView):
    @blp.response(200, SummarySchema)
    @authenticated(scope="read")
    @blp.arguments(ReadArgsSchema, location="query")
    def get(self, args):
        """Summarise a site's or meter's energy and data coverage over a window

        ---
        Without `meter_id` the numbers are the site total: the main meters when any meter is
        marked main, else all meters (then `double_counting_risk` is true and
        `double_counting_message` says why). `total_value` is kWh (`unit`), exact to the Wh.
        `expected_points` counts each meter's intervals that have ended.
        """
        return readings.summarize(*scope_and_window(args))


@blp.route("/series")
class Series(MethodView):
    @blp.response(200, SeriesSchema)
    @authenticated(scope="read")
    @blp.arguments(SeriesArgsSchema, location="query")
    def get(self, args):
        """Get kWh per hour or per site-local day, one point per bucket of the window

        ---
        Hour buckets are the site's local hours (UTC hours, except in zones whose offset is
        not whole hours: Asia/Kolkata's start at :30 UTC), labelled by their UTC start; day
        buckets are the site's calendar days (a DST day has 23 or 25 hours) labelled with
        local midnight. Values are kWh exact to the Wh. A bucket without data is `null`, so
        `window_hours=24` (which ends with the current local hour) always gives 24 hourly
        points. Series span at most 366 days. A site total that adds several meters, none
        marked main, says so in `double_counting_risk`.
        """
        scope, window = scope_and_window(args)
        with service_errors():
            return readings.series(scope, window, args["resolution"])


@blp.route("/export")
class Export(MethodView):
    @blp.response(
        200,
        {"type": "string"},
        content_type="text/csv",
        description="CSV `timestamp_utc,site_id,meter_id,value`, one row per reading by time",
    )
    @authenticated(scope="read")
    @blp.arguments(ReadArgsSchema, location="query")
    def get(self, args):
        """Download readings as CSV (streamed)

        ---
        One row per reading, ordered by time then meter. Without `meter_id`, every meter of
        the site is exported (each row names its meter). Values are kWh; cells that a
        spreadsheet would run as a formula are prefixed with `'`.
        """
        scope, window = scope_and_window(args, totals=False)
        plan = export.plan_export(scope, window)
        engine = db.engine
        # The stream reads on its own connection; give the session's back to the pool now
        # rather than holding it (and its snapshot) open for the whole download.
        db.session.close()
        response = Response(
            stream_with_context(export.export_chunks(engine, plan)), mimetype="text/csv"
        )
        response.headers["Content-Disposition"] = f'attachment; filename="{plan.filename}"'
        response.headers["Cache-Control"] = "no-store"
        return response


@blp.route("/coverage")
class Coverage(MethodView):
    @blp.response(200, CoverageSchema)
    @authenticated(scope="read")
    @blp.arguments(ReadArgsSchema, location="query")
    def get(self, args):
        """Show per meter the intervals expected vs received, missing hours and last reading

        ---
        Without `meter_id`, every meter of the site is listed. Only intervals that have
        ended are expected. `missing_intervals` names each expected interval without a
        reading at the meter's own resolution (a missing 15 minutes is listed);
        `missing_hours` lists the site-local hours (by UTC start) holding only missing
        intervals. Both at most 500 (see `…_truncated`). `last_seen` is the meter's latest
        reading ever, inside the window or not.
        """
        scope, window = scope_and_window(args, totals=False)
        with service_errors():
            return coverage.coverage(scope, window)
