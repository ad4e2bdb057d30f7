"""Sites and meters: create, list, edit, delete, and which meters make a site's total."""

import logging
import re
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from cei.extensions import db
from cei.models import Meter, Organization, Site, ingest_keys, readings
from cei.models.organization import MAX_EMISSION_FACTOR
from cei.models.site import default_schedule
from cei.services import rollups
from cei.services.errors import Conflict, NotFound, ServiceError
from cei.services.identifiers import (  # MAX_ID_LENGTH: read by the readings schemas
    MAX_ID_LENGTH,  # noqa: F401
    InvalidIdentifier,
    check_identifier,
    lookup_form,
)

log = logging.getLogger("cei.sites")

MINUTES_PER_DAY = 1440
# Meter intervals: the minutes that divide a day.
INTERVALS = [minutes for minutes in range(1, MINUTES_PER_DAY + 1) if MINUTES_PER_DAY % minutes == 0]
# "HH:MM" in ASCII digits, whole string (``fullmatch``); an end may also be 24:00. The
# sites API documents them as the ``pattern`` of the schedule's start and end.
START_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
END_PATTERN = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
UNSET = object()


class InvalidField(ServiceError):
    """A site or meter field breaks a rule; ``detail`` names the field."""

    status = 422
    code = "VALIDATION_ERROR"

    def __init__(self, field, message):
        super().__init__(message, detail={field: [message]})
        self.field = field


@cache
def _known_timezones():
    return frozenset(available_timezones())


def timezone_names():
    """The IANA timezone names a site may have, sorted (for the API documentation)."""
    return sorted(_known_timezones())


def check_timezone(name):
    """Return ``name`` when it is an IANA timezone, else raise ``InvalidField``."""
    if not isinstance(name, str) or name not in _known_timezones():
        raise InvalidField("timezone", f"Unknown IANA timezone: {name!r}")
    return name


def site_zone(site):
    """Return the site's timezone as a ``ZoneInfo``."""
    return ZoneInfo(site.timezone)


def check_external_id(value, field="site_id"):
    """Return the id as stored (``site_id`` / ``meter_id``, NFC) or raise ``InvalidField``.

    The rule is :mod:`cei.services.identifiers`, the one ingestion applies too.
    """
    try:
        return check_identifier(value, field)
    except InvalidIdentifier as problem:
        raise InvalidField(field, str(problem)) from None


def _minutes(hhmm):
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def check_schedule(schedule):
    """Return the normalised operating schedule or raise ``InvalidField``.

    ``{"days": [0..6] (Monday = 0), "start": "HH:MM", "end": "HH:MM"}`` in site-local time;
    ``end`` may be ``24:00`` and must come after ``start`` (one shift window per day).
    """
    if not isinstance(schedule, dict) or set(schedule) != {"days", "start", "end"}:
        raise InvalidField("schedule", "Schedule must be {days, start, end}")
    days = schedule["days"]
    if not isinstance(days, list) or any(
        isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6 for day in days
    ):
        raise InvalidField("schedule", "days must be a list of weekday numbers 0-6 (Monday = 0)")
    start, end = schedule["start"], schedule["end"]
    for label, value, pattern in (("start", start, START_PATTERN), ("end", end, END_PATTERN)):
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            hint = " (or 24:00)" if pattern is END_PATTERN else ""
            raise InvalidField("schedule", f"{label} must be a time HH:MM{hint}")
    if _minutes(end) <= _minutes(start):
        raise InvalidField("schedule", "end must be after start (end may be 24:00)")
    return {"days": sorted(set(days)), "start": start, "end": end}


def check_interval(minutes):
    """Return ``minutes`` when it is a meter interval that divides a day, else raise."""
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int)
        or not 1 <= minutes <= MINUTES_PER_DAY
        or MINUTES_PER_DAY % minutes
    ):
        raise InvalidField("interval_minutes", "Must be 1-1440 minutes and divide a day")
    return minutes


def check_tariff(tariff):
    """Return a tariff (currency/kWh, or None for the organization's) or raise."""
    if tariff is None:
        return None
    if isinstance(tariff, bool) or not isinstance(tariff, int | float) or not 0 <= tariff < 1e6:
        raise InvalidField("tariff_per_kwh", "Must be a number from 0 (or null)")
    return float(tariff)


def check_emission_factor(factor):
    """Return an emission factor (kgCO2e/kWh, or None for the organization's) or raise."""
    if factor is None:
        return None
    if (
        isinstance(factor, bool)
        or not isinstance(factor, int | float)
        or not 0 <= factor <= MAX_EMISSION_FACTOR
    ):
        raise InvalidField(
            "emission_factor_kg_per_kwh",
            f"Must be a number from 0 to {MAX_EMISSION_FACTOR} kgCO2e/kWh (or null)",
        )
    return float(factor)


def effective_emission_factor(site):
    """Return the kgCO2e per kWh that applies to the site (its own, else the organization's)."""
    if site.emission_factor_kg_per_kwh is not None:
        return site.emission_factor_kg_per_kwh
    return db.session.get(Organization, site.organization_id).emission_factor_kg_per_kwh


def effective_tariff(site):
    """Return ``(tariff_per_kwh, currency)`` that apply to the site."""
    organization = db.session.get(Organization, site.organization_id)
    tariff = site.tariff_per_kwh if site.tariff_per_kwh is not None else organization.tariff_per_kwh
    return tariff, organization.currency


def _insert(row, conflict):
    """Add and flush ``row``; raise ``conflict`` when a unique key is already taken.

    Callers look for the key first; this catches the race with a concurrent insert. No
    savepoint: pysqlite's legacy transaction handling makes SAVEPOINT commit early, so the
    transaction is rolled back instead, which is fine because the request ends in an error.
    """
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise conflict from exc


def list_sites(organization):
    """Return the organization's sites ordered by ``site_id``."""
    return db.session.scalars(
        select(Site)
        .where(Site.organization_id == organization.id)
        .order_by(Site.site_id)
        .options(selectinload(Site.meters))
    ).all()


def find_site(organization, site_id):
    """Return the organization's site with external id ``site_id``, or None."""
    site_id = lookup_form(site_id)
    if site_id is None:
        return None
    return db.session.scalar(
        select(Site).where(Site.organization_id == organization.id, Site.site_id == site_id)
    )


def get_site(organization, site_id):
    """Return the organization's site ``site_id`` or raise ``NotFound`` (also for other orgs)."""
    site = find_site(organization, site_id)
    if site is None:
        raise NotFound(f"Site {site_id!r} not found")
    return site


def create_site(
    organization,
    site_id,
    name=None,
    timezone=None,
    location=None,
    schedule=None,
    tariff_per_kwh=None,
    emission_factor_kg_per_kwh=None,
):
    """Create a site (timezone defaults to the organization's); raise ``Conflict`` if taken."""
    site_id = check_external_id(site_id)
    conflict = Conflict(f"Site {site_id!r} already exists", code="SITE_EXISTS")
    if find_site(organization, site_id) is not None:
        raise conflict
    site = Site(
        organization_id=organization.id,
        site_id=site_id,
        name=(name or "").strip() or site_id,
        timezone=check_timezone(timezone or organization.timezone),
        location=(location or "").strip() or None,
        schedule=check_schedule(schedule) if schedule is not None else default_schedule(),
        tariff_per_kwh=check_tariff(tariff_per_kwh),
        emission_factor_kg_per_kwh=check_emission_factor(emission_factor_kg_per_kwh),
    )
    _insert(site, conflict)
    log.info("site created org_id=%s site_id=%r", organization.id, site_id)
    return site


def update_site(
    site,
    name=UNSET,
    timezone=UNSET,
    location=UNSET,
    schedule=UNSET,
    tariff_per_kwh=UNSET,
    emission_factor_kg_per_kwh=UNSET,
):
    """Change the given fields of a site (``site_id`` is the factories' key and stays)."""
    if name is not UNSET:
        name = (name or "").strip()
        if not name:
            raise InvalidField("name", "Must not be empty")
        site.name = name
    regrid = False
    if timezone is not UNSET:
        timezone = check_timezone(timezone)
        regrid = rollups.hour_offset(timezone) != rollups.hour_offset(site.timezone)
        site.timezone = timezone
    if location is not UNSET:
        site.location = (location or "").strip() or None
    if schedule is not UNSET:
        site.schedule = check_schedule(schedule)
    if tariff_per_kwh is not UNSET:
        site.tariff_per_kwh = check_tariff(tariff_per_kwh)
    if emission_factor_kg_per_kwh is not UNSET:
        site.emission_factor_kg_per_kwh = check_emission_factor(emission_factor_kg_per_kwh)
    db.session.flush()
    if regrid:
        # Local hours start elsewhere in the new zone: every rollup key moves.
        rollups.rebuild_rollups(db.session.connection(), site.id)
    log.info("site updated org_id=%s site_id=%r", site.organization_id, site.site_id)
    return site


def delete_site(site):
    """Delete a site with its meters, their readings and their idempotency keys."""
    # Readings and keys have no foreign keys (bulk inserts, cei.models.reading), so their
    # rows are deleted here. The site is locked first: an ingestion holding it (FOR KEY
    # SHARE) finishes before, and one starting now waits, then finds the site gone.
    db.session.execute(select(Site.id).where(Site.id == site.id).with_for_update())
    meter_pks = select(Meter.id).where(Meter.site_pk == site.id)
    rollups.forget_site(db.session.connection(), site.id)
    db.session.execute(delete(readings).where(readings.c.meter_pk.in_(meter_pks)))
    # The organization bounds the scan: ingest_keys has no index on meter_pk.
    db.session.execute(
        delete(ingest_keys).where(
            ingest_keys.c.organization_id == site.organization_id,
            ingest_keys.c.meter_pk.in_(meter_pks),
        )
    )
    db.session.delete(site)
    db.session.flush()
    log.info("site deleted org_id=%s site_id=%r", site.organization_id, site.site_id)


def site_meters(site):
    """Return the site's meters ordered by ``meter_id``."""
    return db.session.scalars(
        select(Meter).where(Meter.site_pk == site.id).order_by(Meter.meter_id)
    ).all()


def find_meter(site, meter_id):
    """Return the site's meter ``meter_id`` or None."""
    meter_id = lookup_form(meter_id)
    if meter_id is None:
        return None
    return db.session.scalar(
        select(Meter).where(Meter.site_pk == site.id, Meter.meter_id == meter_id)
    )


def get_meter(site, meter_id):
    """Return the site's meter ``meter_id`` or raise ``NotFound``."""
    meter = find_meter(site, meter_id)
    if meter is None:
        raise NotFound(f"Meter {meter_id!r} not found on this site")
    return meter


def add_meter(site, meter_id, name=None, is_main=False, interval_minutes=60):
    """Create a meter on a site; raise ``Conflict`` if the site already has ``meter_id``."""
    meter_id = check_external_id(meter_id, "meter_id")
    meter = Meter(
        site_pk=site.id,
        organization_id=site.organization_id,
        meter_id=meter_id,
        name=(name or "").strip() or meter_id,
        is_main=bool(is_main),
        interval_minutes=check_interval(interval_minutes),
    )
    conflict = Conflict(f"Meter {meter_id!r} already exists", code="METER_EXISTS")
    if find_meter(site, meter_id) is not None:
        raise conflict
    _insert(meter, conflict)
    _refresh_rollups(site, meter)
    log.info(
        "meter created org_id=%s site_id=%r meter_id=%r",
        site.organization_id,
        site.site_id,
        meter_id,
    )
    return meter


def update_meter(site, meter_id, name=UNSET, is_main=UNSET, interval_minutes=UNSET):
    """Change the given fields of one of the site's meters."""
    meter = get_meter(site, meter_id)
    before = (meter.is_main, meter.interval_minutes < rollups.SUB_HOURLY_BELOW)
    if name is not UNSET:
        name = (name or "").strip()
        if not name:
            raise InvalidField("name", "Must not be empty")
        meter.name = name
    if is_main is not UNSET:
        meter.is_main = bool(is_main)
    if interval_minutes is not UNSET:
        meter.interval_minutes = check_interval(interval_minutes)
    db.session.flush()
    if (meter.is_main, meter.interval_minutes < rollups.SUB_HOURLY_BELOW) != before:
        # The site total adds other meters now, or the meter's hours are kept elsewhere.
        rollups.rebuild_rollups(db.session.connection(), site.id)
    log.info(
        "meter updated org_id=%s site_id=%r meter_id=%r",
        site.organization_id,
        site.site_id,
        meter.meter_id,
    )
    return meter


def delete_meter(site, meter_id):
    """Delete one of the site's meters with its readings, idempotency keys and rollups."""
    meter = get_meter(site, meter_id)
    db.session.execute(select(Site.id).where(Site.id == site.id).with_for_update())
    connection = db.session.connection()
    rollups.forget_meters(connection, [meter.id])
    db.session.execute(delete(readings).where(readings.c.meter_pk == meter.id))
    db.session.execute(
        delete(ingest_keys).where(
            ingest_keys.c.organization_id == site.organization_id,
            ingest_keys.c.meter_pk == meter.id,
        )
    )
    db.session.delete(meter)
    db.session.flush()
    # The site total may add other meters now (or one fewer).
    rollups.rebuild_rollups(connection, site.id)
    log.info(
        "meter deleted org_id=%s site_id=%r meter_id=%r",
        site.organization_id,
        site.site_id,
        meter_id,
    )


def _refresh_rollups(site, meter):
    """Rebuild the site's rollups when a new meter joins the site total."""
    layout = rollups.site_layout(db.session.connection(), site.id)
    if meter.id in layout.totals:
        rollups.rebuild_rollups(db.session.connection(), site.id)


def totals_meters(site, meters=None):
    """Return the meters whose sum is the site total: the main meters if any, else all.

    Marking a meter as main says it already measures the whole site, so adding sub-meters on
    top would count their energy twice.
    """
    meters = site_meters(site) if meters is None else meters
    mains = [meter for meter in meters if meter.is_main]
    return mains or list(meters)
