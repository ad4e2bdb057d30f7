"""Schemas of the sites and meters endpoints."""

import marshmallow as ma
from marshmallow import validate

from cei.blueprints.fields import JsonBoolean, JsonNumber, external_id
from cei.services import sites
from cei.services.errors import ServiceError
from cei.services.sites import MAX_EMISSION_FACTOR


def service_rule(check):
    """Turn a service check (raising ``ServiceError``) into a marshmallow validator."""

    def validator(value):
        try:
            check(value)
        except ServiceError as exc:
            raise ma.ValidationError(exc.message) from exc

    return validator


class ScheduleSchema(ma.Schema):
    """Operating hours in site-local time (outside them, consumption counts as off-hours)."""

    days = ma.fields.List(
        ma.fields.Integer(strict=True, validate=validate.Range(0, 6)),
        required=True,
        metadata={"description": "Weekdays, Monday = 0 … Sunday = 6", "example": [0, 1, 2, 3, 4]},
    )
    start = ma.fields.String(
        required=True,
        metadata={"example": "07:00", "pattern": sites.START_PATTERN, "description": "HH:MM"},
    )
    end = ma.fields.String(
        required=True,
        metadata={
            "example": "19:00",
            "pattern": sites.END_PATTERN,
            "description": "HH:MM after start; may be 24:00",
        },
    )

    @ma.validates_schema
    def follows_the_rules(self, data, **kwargs):
        """Apply the service's schedule rules (HH:MM, end after start)."""
        try:
            sites.check_schedule(data)
        except ServiceError as exc:
            raise ma.ValidationError(exc.message) from exc


name_field = ma.fields.String(validate=validate.Length(min=1, max=200))
timezone_field = ma.fields.String(
    validate=service_rule(sites.check_timezone),
    metadata={
        "description": "IANA timezone, e.g. Europe/Rome",
        "example": "Europe/Rome",
        "enum": sites.timezone_names(),
    },
)
location_field = ma.fields.String(allow_none=True, validate=validate.Length(max=200))
tariff_field = JsonNumber(
    allow_none=True,
    validate=validate.Range(min=0, max=1e6, max_inclusive=False),
    # apispec leaves out that the maximum itself is refused.
    metadata={
        "description": "Currency per kWh, below 1,000,000; null uses the organization's tariff",
        "exclusiveMaximum": True,
    },
)
emission_factor_field = JsonNumber(
    allow_none=True,
    validate=validate.Range(min=0, max=MAX_EMISSION_FACTOR),
    metadata={"description": "kgCO2e per kWh; null uses the organization's emission factor"},
)
interval_field = ma.fields.Integer(
    strict=True,
    validate=service_rule(sites.check_interval),
    metadata={
        "description": "Minutes per reading, 1-1440, dividing a day",
        "example": 60,
        "enum": sites.INTERVALS,
    },
)


class SiteCreateSchema(ma.Schema):
    """A new site."""

    site_id = external_id(
        "The factories' key for the site, unique in the organization",
        validators=[service_rule(sites.check_external_id)],
        required=True,
    )
    name = name_field
    timezone = timezone_field
    location = location_field
    schedule = ma.fields.Nested(
        ScheduleSchema, metadata={"description": "Default: Monday-Friday 07:00-19:00"}
    )
    tariff_per_kwh = tariff_field
    emission_factor_kg_per_kwh = emission_factor_field


class SiteUpdateSchema(ma.Schema):
    """Changes to a site (only the fields sent change; ``site_id`` cannot change)."""

    name = name_field
    timezone = timezone_field
    location = location_field
    schedule = ma.fields.Nested(ScheduleSchema)
    tariff_per_kwh = tariff_field
    emission_factor_kg_per_kwh = emission_factor_field


class MeterCreateSchema(ma.Schema):
    """A new meter."""

    meter_id = external_id(
        "The factories' key for the meter, unique on the site",
        validators=[service_rule(lambda value: sites.check_external_id(value, "meter_id"))],
        required=True,
    )
    name = name_field
    is_main = JsonBoolean(
        metadata={"description": "Measures the whole site (site totals use main meters)"}
    )
    interval_minutes = interval_field


class MeterUpdateSchema(ma.Schema):
    """Changes to a meter (only the fields sent change)."""

    name = name_field
    is_main = JsonBoolean()
    interval_minutes = interval_field


class MeterSchema(ma.Schema):
    """A meter."""

    meter_id = ma.fields.String()
    name = ma.fields.String()
    is_main = ma.fields.Boolean(
        metadata={"description": "Site totals use the main meters when any is marked main"}
    )
    interval_minutes = ma.fields.Integer()
    created_at = ma.fields.DateTime()


class SiteSchema(ma.Schema):
    """A site with its meters and the tariff that applies to it."""

    site_id = ma.fields.String()
    name = ma.fields.String()
    timezone = ma.fields.String()
    location = ma.fields.String(allow_none=True)
    schedule = ma.fields.Nested(ScheduleSchema)
    tariff_per_kwh = ma.fields.Float(
        allow_none=True, metadata={"description": "The site's own tariff; null = organization's"}
    )
    effective_tariff_per_kwh = ma.fields.Method(
        "get_effective_tariff",
        metadata={"type": "number", "description": "The tariff that applies"},
    )
    currency = ma.fields.Method("get_currency", metadata={"type": "string", "example": "EUR"})
    emission_factor_kg_per_kwh = ma.fields.Float(
        allow_none=True, metadata={"description": "The site's own factor; null = organization's"}
    )
    effective_emission_factor_kg_per_kwh = ma.fields.Method(
        "get_effective_emission_factor",
        metadata={"type": "number", "description": "The kgCO2e/kWh that applies"},
    )
    meters = ma.fields.List(ma.fields.Nested(MeterSchema))
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()

    def get_effective_tariff(self, site):
        """The site's tariff or, without one, the organization's."""
        return sites.effective_tariff(site)[0]

    def get_currency(self, site):
        """The organization's currency."""
        return sites.effective_tariff(site)[1]

    def get_effective_emission_factor(self, site):
        """The site's emission factor or, without one, the organization's."""
        return sites.effective_emission_factor(site)
