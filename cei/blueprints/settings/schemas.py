"""Schemas of the organization settings."""

import marshmallow as ma
from marshmallow import validate

from cei.blueprints.fields import JsonNumber
from cei.services.analytics import settings


class SettingsSchema(ma.Schema):
    """Money, carbon and alert thresholds of the organization."""

    currency = ma.fields.String(metadata={"example": "EUR"})
    tariff_per_kwh = ma.fields.Float(metadata={"description": "Default for sites without one"})
    emission_factor_kg_per_kwh = ma.fields.Float(
        metadata={"description": "kgCO2e per kWh; default for sites without one"}
    )
    emission_factor_default_kg_per_kwh = ma.fields.Float()
    emission_factor_default_source = ma.fields.String()
    deviation_warning_pct = ma.fields.Float(
        metadata={"description": "Deviation from the baseline that raises a warning"}
    )
    deviation_critical_pct = ma.fields.Float(
        metadata={"description": "Deviation from the baseline that is critical"}
    )


# apispec leaves out that the minimum itself (0) is refused.
ABOVE_ZERO = {"exclusiveMinimum": True}


class SettingsUpdateSchema(ma.Schema):
    """Changes to the settings (only the fields sent change)."""

    currency = ma.fields.String(
        validate=validate.Regexp(r"^[A-Za-z]{3}$", error="Must be an ISO 4217 code such as EUR")
    )
    tariff_per_kwh = JsonNumber(
        validate=validate.Range(min=0, max=settings.MAX_TARIFF), allow_nan=False
    )
    emission_factor_kg_per_kwh = JsonNumber(
        validate=validate.Range(min=0, max=settings.MAX_EMISSION_FACTOR), allow_nan=False
    )
    deviation_warning_pct = JsonNumber(
        validate=validate.Range(min=0, max=settings.MAX_THRESHOLD_PCT, min_inclusive=False),
        allow_nan=False,
        metadata=ABOVE_ZERO,
    )
    deviation_critical_pct = JsonNumber(
        validate=validate.Range(min=0, max=settings.MAX_THRESHOLD_PCT, min_inclusive=False),
        allow_nan=False,
        metadata=ABOVE_ZERO,
    )
