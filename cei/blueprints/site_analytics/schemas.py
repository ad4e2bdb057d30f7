"""Schemas of a site's analysis results.

Every energy figure ``<name>_kwh`` comes with ``<name>_cost`` (in ``currency``) and
``<name>_co2e_kg`` (kgCO2e, from the emission factor in ``factors``).
"""

import marshmallow as ma
from marshmallow import validate

from cei.blueprints.readings.schemas import PreDumpedList, QueryDateTime

MAX_BASELINE_HOURS = 28 * 24


def _priced(name, what):
    return {
        f"{name}_kwh": ma.fields.Float(allow_none=True, metadata={"description": what}),
        f"{name}_cost": ma.fields.Float(allow_none=True, metadata={"description": "In currency"}),
        f"{name}_co2e_kg": ma.fields.Float(allow_none=True, metadata={"description": "kgCO2e"}),
    }


class FactorsSchema(ma.Schema):
    """The tariff and emission factor that apply to the site, and where they come from."""

    tariff_per_kwh = ma.fields.Float()
    currency = ma.fields.String()
    tariff_source = ma.fields.String(metadata={"description": "site or organization"})
    emission_factor_kg_per_kwh = ma.fields.Float()
    emission_factor_source = ma.fields.String(metadata={"description": "site or organization"})


class ResultHeaderSchema(ma.Schema):
    """Which analysis the figures come from."""

    site_id = ma.fields.String()
    timezone = ma.fields.String()
    state = ma.fields.String(metadata={"description": "pending (not analysed yet) or analysed"})
    analysed_at = ma.fields.DateTime(allow_none=True)
    updated_at = ma.fields.DateTime(allow_none=True)
    run_id = ma.fields.Integer(allow_none=True)


KpisSchema = ResultHeaderSchema.from_dict(
    {
        "currency": ma.fields.String(),
        "factors": ma.fields.Nested(FactorsSchema),
        **_priced("last_24h", "The last 24 site-local hours that have ended"),
        **_priced("baseline_24h", "Expected by the baseline for the same hours with data"),
        "deviation_pct_24h": ma.fields.Float(allow_none=True),
        "coverage_24h_pct": ma.fields.Float(allow_none=True),
        **_priced("last_7d", "The last 168 hours that have ended"),
        **_priced("baseline_7d", "Expected by the baseline for the same hours with data"),
        "deviation_pct_7d": ma.fields.Float(allow_none=True),
        "coverage_7d_pct": ma.fields.Float(allow_none=True),
        **_priced("prev_7d", "The 168 hours before the last 7 days"),
        "change_pct_7d_vs_prev": ma.fields.Float(allow_none=True),
        "tariff_per_kwh": ma.fields.Float(allow_none=True),
        "emission_factor_kg_per_kwh": ma.fields.Float(allow_none=True),
        "baseline_quality": ma.fields.Dict(
            metadata={
                "description": "state (e.g. warming_up), CV(RMSE) and NMBE on a hold-out "
                "and whether they pass ASHRAE Guideline 14"
            }
        ),
    },
    name="KpisSchema",
)


class WindowArgsSchema(ma.Schema):
    """A window: the last ``window_hours`` (default 168) or ``start``/``end``."""

    window_hours = ma.fields.Integer(validate=validate.Range(1, MAX_BASELINE_HOURS))
    start = QueryDateTime()
    end = QueryDateTime()

    @ma.validates_schema
    def one_window(self, data, **kwargs):
        """Require either window_hours or both start and end, with end after start."""
        start, end = data.get("start"), data.get("end")
        if start is None and end is None:
            return
        if data.get("window_hours") is not None:
            raise ma.ValidationError("Give window_hours or start/end, not both", "window_hours")
        if start is None or end is None:
            raise ma.ValidationError("start and end go together", "end" if end is None else "start")
        if end <= start:
            raise ma.ValidationError("end must be after start", "end")
        if (end - start).total_seconds() > MAX_BASELINE_HOURS * 3600:
            raise ma.ValidationError(f"At most {MAX_BASELINE_HOURS} hours", "end")


class BaselinePointSchema(ma.Schema):
    """One hour: what was used and what the baseline expected."""

    ts = ma.fields.Integer(metadata={"description": "Hour start, UTC epoch seconds"})
    actual_kwh = ma.fields.Float(allow_none=True)
    expected_kwh = ma.fields.Float(allow_none=True)


BaselineSchema = ResultHeaderSchema.from_dict(
    {
        "from_ts": ma.fields.Integer(),
        "to_ts": ma.fields.Integer(),
        "quality": ma.fields.Dict(),
        "points": PreDumpedList(ma.fields.Nested(BaselinePointSchema)),
    },
    name="BaselineSchema",
)


class ForecastArgsSchema(ma.Schema):
    """How far ahead: 24 hours or 168 (7 days)."""

    horizon_hours = ma.fields.Integer(load_default=168, validate=validate.Range(1, 168))


class ForecastPointSchema(ma.Schema):
    """One future hour with its interval."""

    ts = ma.fields.Integer(metadata={"description": "Hour start, UTC epoch seconds"})
    expected_kwh = ma.fields.Float(allow_none=True)
    lower_kwh = ma.fields.Float(allow_none=True)
    upper_kwh = ma.fields.Float(allow_none=True)


ForecastSchema = ResultHeaderSchema.from_dict(
    {
        "method": ma.fields.String(allow_none=True),
        "horizon_hours": ma.fields.Integer(),
        "details": ma.fields.Dict(),
        "points": PreDumpedList(ma.fields.Nested(ForecastPointSchema)),
    },
    name="ForecastSchema",
)


OpportunitySchema = ma.Schema.from_dict(
    {
        "plugin": ma.fields.String(),
        "kind": ma.fields.String(),
        "title": ma.fields.String(),
        **_priced("per_week", "Saving per week"),
        **_priced("per_year", "Saving per year"),
        "currency": ma.fields.String(),
        "method": ma.fields.String(metadata={"description": "How the saving was estimated"}),
        "details": ma.fields.Dict(),
    },
    name="OpportunitySchema",
)

OpportunitiesSchema = ResultHeaderSchema.from_dict(
    {
        "currency": ma.fields.String(),
        "opportunities": ma.fields.List(ma.fields.Nested(OpportunitySchema)),
    },
    name="OpportunitiesSchema",
)
