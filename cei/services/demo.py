"""Demo data: an organization with three factories and 90 days of hourly readings.

Each site tells a story the analytics should find: Bologna leaves its compressors running at
night, Chicago runs through the weekend and stepped up its load three weeks ago, Osaka is
well run. Readings go through the real ingestion pipeline. Values are a pure function of
(site, meter, hour), so seeding again only adds the hours since the last run: the hours
already stored come back as exact duplicates and are skipped.
"""

import logging
import random
from dataclasses import dataclass
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from cei.services import accounts, ingest
from cei.services import sites as site_service
from cei.services.ingest.limits import MAX_BATCH_RECORDS
from cei.services.windows import utcnow

log = logging.getLogger("cei.demo")

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "cei-demo-password"
DEMO_ORGANIZATION = "Demo Manufacturing"
DAYS = 90
SHIFT_STARTS_DAYS_AGO = 21


@dataclass(frozen=True)
class DemoSite:
    """A demo factory: where it is and how it uses energy (kWh per hour)."""

    site_id: str
    name: str
    timezone: str
    location: str
    tariff_per_kwh: float
    base_kwh: float  # closed hours, when nothing is wasted
    working_kwh: float  # operating hours
    night_kwh: float  # weekday nights (wasteful when above base_kwh)
    weekend_kwh: float  # weekend days (wasteful when above base_kwh)
    shift: float = 0.0  # extra share of load since SHIFT_STARTS_DAYS_AGO
    sub_meter_share: float = 0.0  # share measured by a sub-meter (the main meter sees all)


SITES = (
    DemoSite("bologna", "Bologna plant", "Europe/Rome", "Bologna, IT", 0.24,
             base_kwh=42, working_kwh=180, night_kwh=96, weekend_kwh=45, sub_meter_share=0.3),
    DemoSite("chicago", "Chicago assembly", "America/Chicago", "Chicago, US", 0.14,
             base_kwh=55, working_kwh=210, night_kwh=58, weekend_kwh=150, shift=0.22),
    DemoSite("osaka", "Osaka works", "Asia/Tokyo", "Osaka, JP", 0.27,
             base_kwh=35, working_kwh=150, night_kwh=36, weekend_kwh=37),
)  # fmt: skip


@dataclass
class DemoResult:
    """What a seeding run did."""

    created: bool
    ingested: int
    skipped_duplicate: int
    failed: int
    email: str = DEMO_EMAIL
    password: str = DEMO_PASSWORD


def hourly_kwh(site, moment, shift_from):
    """Return the main meter's kWh for the hour starting at ``moment`` (aware UTC).

    ``shift_from`` is when Chicago's level shift began (fixed per organization, so an hour's
    value never changes between runs).
    """
    local = moment.astimezone(ZoneInfo(site.timezone))
    weekend = local.weekday() >= 5
    hour = local.hour + local.minute / 60
    if weekend:
        level = site.weekend_kwh
    elif 7 <= hour < 19:
        # Ramp up in the first hour of the shift and down in the last one.
        ramp = min(1.0, hour - 6.5, 19 - hour)
        level = site.night_kwh + (site.working_kwh - site.night_kwh) * max(ramp, 0.3)
    else:
        level = site.night_kwh
    if site.shift and moment >= shift_from:
        level *= 1 + site.shift
    # Seasonal drift (heating and cooling) and noise, reproducible for the same hour.
    day_of_year = local.timetuple().tm_yday
    season = 1 + 0.06 * abs(((day_of_year + 15) % 365) / 182.5 - 1)
    noise = random.Random(f"{site.site_id}:{int(moment.timestamp())}").gauss(1.0, 0.04)
    return round(max(level * season * noise, 0.0), 3)


def _records(site, hours, shift_from):
    records = []
    for moment in hours:
        total = hourly_kwh(site, moment, shift_from)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        records.append(
            {"site_id": site.site_id, "meter_id": "main", "timestamp_utc": stamp, "value": total}
        )
        if site.sub_meter_share:
            records.append(
                {
                    "site_id": site.site_id,
                    "meter_id": "compressors",
                    "timestamp_utc": stamp,
                    "value": round(total * site.sub_meter_share, 3),
                }
            )
    return records


def _organization():
    """Return ``(organization, created)`` for the demo account, creating it when missing."""
    user = accounts.find_user_by_email(DEMO_EMAIL)
    if user is not None:
        return user.organization, False
    user = accounts.sign_up(DEMO_EMAIL, DEMO_PASSWORD, DEMO_ORGANIZATION, "Demo Energy Manager")
    organization = user.organization
    for site in SITES:
        site_service.create_site(
            organization,
            site.site_id,
            name=site.name,
            timezone=site.timezone,
            location=site.location,
            tariff_per_kwh=site.tariff_per_kwh,
        )
    return organization, True


def seed_demo(now=None, days=DAYS):
    """Make sure the demo organization exists and has hourly readings up to the current hour."""
    now = _hour(now or utcnow())
    organization, created = _organization()
    hours = [now - timedelta(hours=h) for h in range(days * 24 - 1, -1, -1)]
    shift_from = _hour(organization.created_at or now) - timedelta(days=SHIFT_STARTS_DAYS_AGO)
    ingested = skipped = failed = 0
    for site in SITES:
        records = _records(site, hours, shift_from)
        for start in range(0, len(records), MAX_BATCH_RECORDS):
            result = ingest.ingest_batch(
                organization, records[start : start + MAX_BATCH_RECORDS], source="demo"
            )
            ingested += result.ingested
            skipped += result.skipped_duplicate
            failed += result.failed
        if site.sub_meter_share and created:
            site_service.update_meter(
                site_service.get_site(organization, site.site_id), "main", is_main=True
            )
    log.info(
        "demo seeded created=%s ingested=%d skipped=%d failed=%d",
        created,
        ingested,
        skipped,
        failed,
    )
    return DemoResult(created, ingested, skipped, failed)


def _hour(moment):
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
