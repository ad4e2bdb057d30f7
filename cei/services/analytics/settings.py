"""An organization's analytics settings: currency, tariff, emission factor, deviation thresholds.

Sites may override the tariff and the emission factor (``PATCH /api/v1/sites/<site_id>``).
"""

from __future__ import annotations

import logging
import re

from cei.extensions import db
from cei.models.organization import DEFAULT_EMISSION_FACTOR, MAX_EMISSION_FACTOR
from cei.services.errors import ServiceError

log = logging.getLogger("cei.settings")

CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
MAX_TARIFF = 1e6
MAX_THRESHOLD_PCT = 1000.0
EMISSION_FACTOR_SOURCE = (
    "Default 0.21 kgCO2e/kWh: EU-27 electricity generation, 2023 (European Environment "
    "Agency, 'Greenhouse gas emission intensity of electricity generation in Europe')."
)
FIELDS = (
    "currency",
    "tariff_per_kwh",
    "emission_factor_kg_per_kwh",
    "deviation_warning_pct",
    "deviation_critical_pct",
)


class InvalidSetting(ServiceError):
    """A setting breaks a rule; ``detail`` names the field."""

    status = 422
    code = "VALIDATION_ERROR"

    def __init__(self, field, message):
        super().__init__(message, detail={field: [message]})


def _number(field, value, low, high, low_inclusive=True):
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidSetting(field, "Must be a number")
    if value > high or value < low or (value == low and not low_inclusive):
        bound = "above" if not low_inclusive else "from"
        raise InvalidSetting(field, f"Must be {bound} {low} up to {high}")
    return float(value)


def check_currency(value):
    """Return an ISO 4217 code (three capital letters) or raise."""
    if not isinstance(value, str) or not CURRENCY_PATTERN.match(value.strip().upper()):
        raise InvalidSetting("currency", "Must be an ISO 4217 code such as EUR")
    return value.strip().upper()


def check_emission_factor(value, field="emission_factor_kg_per_kwh"):
    """Return an emission factor in kgCO2e/kWh (0 to 2) or raise."""
    return _number(field, value, 0.0, MAX_EMISSION_FACTOR)


def get_settings(organization):
    """Return the organization's analytics settings."""
    return {
        "currency": organization.currency,
        "tariff_per_kwh": organization.tariff_per_kwh,
        "emission_factor_kg_per_kwh": organization.emission_factor_kg_per_kwh,
        "emission_factor_default_kg_per_kwh": DEFAULT_EMISSION_FACTOR,
        "emission_factor_default_source": EMISSION_FACTOR_SOURCE,
        "deviation_warning_pct": organization.deviation_warning_pct,
        "deviation_critical_pct": organization.deviation_critical_pct,
    }


def update_settings(organization, **changes):
    """Change the given settings (all checked before any is applied); flush."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise InvalidSetting(sorted(unknown)[0], "Unknown setting")
    values = {}
    if "currency" in changes:
        values["currency"] = check_currency(changes["currency"])
    if "tariff_per_kwh" in changes:
        values["tariff_per_kwh"] = _number(
            "tariff_per_kwh", changes["tariff_per_kwh"], 0, MAX_TARIFF
        )
    if "emission_factor_kg_per_kwh" in changes:
        values["emission_factor_kg_per_kwh"] = check_emission_factor(
            changes["emission_factor_kg_per_kwh"]
        )
    for field in ("deviation_warning_pct", "deviation_critical_pct"):
        if field in changes:
            values[field] = _number(field, changes[field], 0, MAX_THRESHOLD_PCT, False)
    warning = values.get("deviation_warning_pct", organization.deviation_warning_pct)
    critical = values.get("deviation_critical_pct", organization.deviation_critical_pct)
    if warning >= critical:
        raise InvalidSetting(
            "deviation_critical_pct", "The critical threshold must be above the warning one"
        )
    for field, value in values.items():
        setattr(organization, field, value)
    db.session.flush()
    log.info("settings changed org_id=%s fields=%s", organization.id, ",".join(sorted(values)))
    return get_settings(organization)
