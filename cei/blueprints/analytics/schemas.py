"""Schemas of the analysis runs endpoints."""

import marshmallow as ma
from marshmallow import validate
from webargs.fields import DelimitedList

from cei.services.analytics.runs import RUN_STATUSES, TRIGGERS
from cei.services.sites import MAX_ID_LENGTH


class RunRequestSchema(ma.Schema):
    """Which site to analyse (all the organization's sites without ``site_id``)."""

    site_id = ma.fields.String(
        validate=validate.Length(min=1, max=MAX_ID_LENGTH),
        metadata={"description": "The site to analyse; omit it to analyse every site"},
    )


class PluginOutcomeSchema(ma.Schema):
    """How one plugin's run went."""

    status = ma.fields.String(metadata={"description": "ok, failed or skipped"})
    duration_ms = ma.fields.Float()
    error = ma.fields.String(allow_none=True)
    findings = ma.fields.Integer()
    opportunities = ma.fields.Integer()
    data = ma.fields.Raw(
        allow_none=True, metadata={"description": "The plugin's own figures (series left out)"}
    )


class RunSchema(ma.Schema):
    """One analysis of one site."""

    id = ma.fields.Integer()
    site_id = ma.fields.Function(lambda run: run.site.site_id)
    status = ma.fields.String(metadata={"enum": list(RUN_STATUSES)})
    trigger = ma.fields.String(metadata={"enum": list(TRIGGERS)})
    queued_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
    duration_ms = ma.fields.Float(allow_none=True)
    read_ms = ma.fields.Float(
        allow_none=True, metadata={"description": "Part of duration_ms spent reading data"}
    )
    error = ma.fields.String(allow_none=True)
    plugins = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(PluginOutcomeSchema),
        allow_none=True,
    )


class RunsQueuedSchema(ma.Schema):
    """The runs a request queued (a site with a run already queued answers with that one)."""

    run_ids = ma.fields.List(ma.fields.Integer())
    runs = ma.fields.List(ma.fields.Nested(RunSchema))


class RunListArgsSchema(ma.Schema):
    """Filters and paging of the runs list."""

    site_id = ma.fields.String(validate=validate.Length(min=1, max=MAX_ID_LENGTH))
    status = DelimitedList(
        ma.fields.String(validate=validate.OneOf(RUN_STATUSES)),
        metadata={"description": "Comma-separated statuses"},
    )
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(1, 500))
    offset = ma.fields.Integer(load_default=0, validate=validate.Range(0, 10_000_000))


class RunListSchema(ma.Schema):
    """A page of runs, newest first."""

    total = ma.fields.Integer()
    limit = ma.fields.Integer()
    offset = ma.fields.Integer()
    items = ma.fields.List(ma.fields.Nested(RunSchema))
