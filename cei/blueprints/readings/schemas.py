"""Schemas of the read endpoints: query arguments and answers."""

import re
from datetime import UTC

import marshmallow as ma
from marshmallow import validate

from cei.services.ingest.timestamps import parse_moment
from cei.services.readings import RESOLUTIONS
from cei.services.sites import MAX_ID_LENGTH
from cei.services.windows import DEFAULT_WINDOW_HOURS, MAX_WINDOW_HOURS

# "+02:00" typed into a URL unencoded arrives as " 02:00" ('+' means space in a query string).
OFFSET_AS_SPACE = re.compile(r" (\d{2}(:?\d{2})?)$")


class QueryDateTime(ma.fields.DateTime):
    """An RFC 3339 date-time from a query string, returned timezone-aware (naive = UTC).

    Parsed by the one timestamp rule ingestion uses (``cei.services.ingest.timestamps``).
    """

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = OFFSET_AS_SPACE.sub(r"+\1", value.strip())
        moment = parse_moment(value)
        if moment is None:
            raise ma.ValidationError(
                "Not an RFC 3339 date-time (e.g. 2026-03-01T00:00:00Z or +01:00 offset)."
            )
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class ReadArgsSchema(ma.Schema):
    """Which readings to read: a site (or one of its meters) over a window."""

    site_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=MAX_ID_LENGTH))
    meter_id = ma.fields.String(
        validate=validate.Length(min=1, max=MAX_ID_LENGTH),
        metadata={"description": "One meter; without it, the site total (main meters if any)"},
    )
    window_hours = ma.fields.Integer(
        validate=validate.Range(1, MAX_WINDOW_HOURS),
        metadata={
            "description": "Hour-aligned window ending with the current (open) hour; "
            f"default {DEFAULT_WINDOW_HOURS}. Not together with start/end."
        },
    )
    start = QueryDateTime(
        metadata={"description": "ISO 8601 start, inclusive (no offset = UTC); needs end"}
    )
    end = QueryDateTime(metadata={"description": "ISO 8601 end, exclusive; needs start"})

    @ma.validates_schema
    def one_window(self, data, **kwargs):
        """Require either window_hours or both start and end, with end after start."""
        start, end = data.get("start"), data.get("end")
        if start is None and end is None:
            return
        if data.get("window_hours") is not None:
            raise ma.ValidationError("Give window_hours or start/end, not both", "window_hours")
        if start is None or end is None:
            missing = "start" if start is None else "end"
            raise ma.ValidationError("start and end go together", missing)
        if end <= start:
            raise ma.ValidationError("end must be after start", "end")


class SeriesArgsSchema(ReadArgsSchema):
    """A series request: the window plus the bucket size."""

    resolution = ma.fields.String(
        load_default="hour",
        validate=validate.OneOf(RESOLUTIONS),
        metadata={"description": "hour (UTC hours) or day (site-local calendar days)"},
    )


class PreDumpedList(ma.fields.List):
    """A list the service already built in its final JSON shape, documented by its items.

    Dumping 2,000 series points through marshmallow costs about 9 ms, a good part of a series
    request's budget, for no change to the data.
    """

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class WindowSchema(ma.Schema):
    """What was read, over which window."""

    site_id = ma.fields.String()
    meter_id = ma.fields.String(allow_none=True, metadata={"description": "null = site total"})
    window_hours = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "Window length in hours (null if not a whole number)"},
    )
    from_timestamp = ma.fields.String(
        metadata={"format": "date-time", "description": "Window start (inclusive), UTC"}
    )
    to_timestamp = ma.fields.String(
        metadata={"format": "date-time", "description": "Window end (exclusive), UTC"}
    )


class TotalWarningSchema(ma.Schema):
    """The warning of a site total that may count energy twice."""

    double_counting_risk = ma.fields.Boolean(
        metadata={
            "description": "True for a site total that adds several meters, none marked "
            "main: a main meter plus its sub-meters would be counted twice"
        }
    )
    double_counting_message = ma.fields.String(
        allow_none=True, metadata={"description": "What to show the user; null = no risk"}
    )


class SummarySchema(WindowSchema, TotalWarningSchema):
    """Energy and data completeness over a window."""

    unit = ma.fields.String(metadata={"description": "Unit of total_value: kWh"})
    total_value = ma.fields.Float(metadata={"description": "kWh, exact to the Wh"})
    points = ma.fields.Integer(
        metadata={"description": "Readings summed in total_value (the open interval's too)"}
    )
    expected_points = ma.fields.Integer(
        metadata={"description": "Readings expected from the meters' intervals (those that ended)"}
    )
    coverage_pct = ma.fields.Float(
        allow_none=True,
        metadata={"description": "Readings in the ended intervals / expected_points, at most 100"},
    )


class PointSchema(ma.Schema):
    """One bucket of a series."""

    ts = ma.fields.String(
        metadata={"format": "date-time", "description": "Bucket start (day: local midnight)"}
    )
    value = ma.fields.Float(allow_none=True, metadata={"description": "kWh; null = no data"})


class SeriesSchema(WindowSchema, TotalWarningSchema):
    """kWh per bucket, one point per bucket of the window."""

    unit = ma.fields.String(metadata={"description": "Unit of the values: kWh"})
    resolution = ma.fields.String()
    timezone = ma.fields.String(metadata={"description": "The site's timezone (day buckets)"})
    points = PreDumpedList(ma.fields.Nested(PointSchema))


class MeterCoverageSchema(ma.Schema):
    """Data completeness of one meter."""

    meter_id = ma.fields.String()
    interval_minutes = ma.fields.Integer()
    expected = ma.fields.Integer(
        metadata={"description": "Intervals in the window that have ended"}
    )
    received = ma.fields.Integer(
        metadata={
            "description": "Readings in the window's ended intervals (a reading of the open "
            "interval is not counted until it has ended)"
        }
    )
    coverage_pct = ma.fields.Float(allow_none=True)
    missing_intervals = PreDumpedList(
        ma.fields.String(metadata={"format": "date-time"}),
        metadata={
            "description": "Starts of ended intervals without a reading, at the meter's "
            "interval (UTC), oldest first, capped at 500"
        },
    )
    missing_intervals_count = ma.fields.Integer()
    missing_intervals_truncated = ma.fields.Boolean()
    missing_hours = PreDumpedList(
        ma.fields.String(metadata={"format": "date-time"}),
        metadata={
            "description": "Starts of the site-local hours (UTC) holding only missing "
            "intervals, oldest first, capped at 500"
        },
    )
    missing_hours_count = ma.fields.Integer()
    missing_hours_truncated = ma.fields.Boolean()
    last_seen = ma.fields.String(
        allow_none=True,
        metadata={"format": "date-time", "description": "Latest reading ever received"},
    )


class CoverageSchema(WindowSchema):
    """Expected vs received intervals per meter."""

    expected = ma.fields.Integer()
    received = ma.fields.Integer()
    coverage_pct = ma.fields.Float(allow_none=True)
    meters = ma.fields.List(ma.fields.Nested(MeterCoverageSchema))
