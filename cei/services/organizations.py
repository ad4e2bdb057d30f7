"""Organizations: change the name, currency, default tariff and timezone."""

import logging
import re

from cei.extensions import db
from cei.services.sites import InvalidField, check_tariff, check_timezone

log = logging.getLogger("cei.organizations")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
MAX_NAME_LENGTH = 200


def update_organization(organization, name, currency, tariff_per_kwh, timezone):
    """Set the organization's name, currency (ISO 4217), default tariff and timezone."""
    name = (name or "").strip()
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise InvalidField("name", f"Must be 1 to {MAX_NAME_LENGTH} characters")
    if not isinstance(currency, str) or not CURRENCY_PATTERN.match(currency):
        raise InvalidField("currency", "Must be a three-letter ISO 4217 code, e.g. EUR")
    tariff = check_tariff(tariff_per_kwh)
    if tariff is None:
        raise InvalidField("tariff_per_kwh", "The organization needs a default tariff")
    organization.name = name
    organization.currency = currency
    organization.tariff_per_kwh = tariff
    organization.timezone = check_timezone(timezone)
    db.session.flush()
    log.info("organization updated org_id=%s", organization.id)
    return organization
