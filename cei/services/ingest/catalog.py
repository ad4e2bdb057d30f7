"""Sites and meters named by ingested records: found in bulk, created when missing.

A batch costs one query for its sites and one for its meters, whatever its size; rows that
are missing are inserted with ``ON CONFLICT DO NOTHING`` and read back, so two batches
creating the same site at the same moment both end up using the one row that won.

Readings and idempotency keys have no foreign keys (``cei.models.reading``), so the lookups
lock what they find until the ingestion commits: on PostgreSQL ``FOR KEY SHARE`` (a site
being deleted makes them wait, then they find it gone), on SQLite the database's write lock,
taken before the first lookup.
"""

from typing import NamedTuple

from sqlalchemy import bindparam, text
from sqlalchemy.dialects import postgresql, sqlite

from cei.models import Meter, Site
from cei.services.ingest.limits import DEFAULT_INTERVAL_MINUTES
from cei.services.ingest.store import CHUNK, chunks

# Plain SQL built once, then bound per batch.
_FIND_SITES = (
    "SELECT site_id, id FROM sites WHERE organization_id = :organization_id "
    "AND site_id IN :site_ids"
)
_FIND_METERS = (
    "SELECT site_pk, meter_id, id, interval_minutes FROM meters "
    "WHERE organization_id = :organization_id AND site_pk IN :site_pks "
    "AND meter_id IN :meter_ids"
)


# One site or meter (most batches): plain equality, whose compiled form SQLAlchemy caches
# (an expanding IN list is rendered anew on every execution).
_FIND_SITE = (
    "SELECT site_id, id FROM sites WHERE organization_id = :organization_id AND site_id = :site_id"
)
_FIND_METER = (
    "SELECT site_pk, meter_id, id, interval_minutes FROM meters "
    "WHERE organization_id = :organization_id AND site_pk = :site_pk "
    "AND meter_id = :meter_id"
)


class KnownMeter(NamedTuple):
    """A meter an ingestion writes to."""

    pk: int
    interval_minutes: int


def _lookups(lock=""):
    sites = text(_FIND_SITES + lock).bindparams(bindparam("site_ids", expanding=True))
    meters = text(_FIND_METERS + lock).bindparams(
        bindparam("site_pks", expanding=True), bindparam("meter_ids", expanding=True)
    )
    return sites, meters, text(_FIND_SITE + lock), text(_FIND_METER + lock)


# dialect name -> (find sites, find meters, find one site, find one meter)
LOOKUPS = {"sqlite": _lookups(), "postgresql": _lookups(" FOR KEY SHARE")}

# A new meter's interval is inferred from the spacing of its first readings only when that
# spacing is one of these; hourly data with gaps must not turn into a 2-hour meter.
SUB_HOURLY_INTERVALS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)


def _insert(connection, table):
    dialect = sqlite if connection.dialect.name == "sqlite" else postgresql
    return dialect.insert(table).on_conflict_do_nothing()


class Catalog:
    """The organization's sites and meters that an ingestion has met so far."""

    def __init__(self, connection, organization):
        self.connection = connection
        self.dialect = connection.dialect.name
        self.find_sites, self.find_meters, self.find_site, self.find_meter = LOOKUPS[self.dialect]
        self.locked = False
        self.organization_id = organization.id
        self.timezone = organization.timezone or "UTC"
        self.auto_create = organization.auto_create_sites
        self.site_pks = {}  # site_id -> sites.id
        self.meters = {}  # (site_id, meter_id) -> KnownMeter
        self.site_of_meter = {}  # meters.id -> sites.id
        self.unknown_sites = set()

    def resolve(self, pairs, intervals_for_new):
        """Make ``self.meters`` cover ``pairs`` (site_id, meter_id) where the site is allowed.

        ``intervals_for_new(pairs)`` returns ``{pair: interval_minutes}`` for meters about
        to be created. Pairs whose site is unknown (auto-creation off) stay unresolved.
        """
        # In key order: the inserts below lock the new rows one by one, and two batches
        # creating overlapping sites or meters must take those locks in the same order
        # (set order differs between batches, and opposite orders deadlock).
        pairs = sorted(pair for pair in pairs if pair not in self.meters)
        if not pairs:
            return
        if not self.locked:
            self._lock()
        self._resolve_sites(sorted({site for site, _ in pairs}))
        pairs = [pair for pair in pairs if pair[0] in self.site_pks]
        if not pairs:
            return
        self._load_meters(pairs)
        missing = [pair for pair in pairs if pair not in self.meters]
        if missing:
            intervals = intervals_for_new(missing)
            rows = [
                {
                    "site_pk": self.site_pks[site],
                    "organization_id": self.organization_id,
                    "meter_id": meter,
                    "name": meter,
                    "interval_minutes": intervals.get((site, meter), DEFAULT_INTERVAL_MINUTES),
                }
                for site, meter in missing
            ]
            for part in chunks(rows, 1000):
                self.connection.execute(_insert(self.connection, Meter.__table__), part)
            self._load_meters(missing)

    def _lock(self):
        """On SQLite, take the write lock now, unless the transaction already holds it."""
        self.locked = True
        if self.dialect != "sqlite":
            return  # the lookups lock the rows they find
        driver = self.connection.connection.driver_connection
        # pysqlite opens a transaction only before the first write: until then each read
        # sees the latest commit, and a site deleted between the lookups and the inserts
        # would leave readings behind (and SQLite may reuse the meter's id).
        if not driver.in_transaction:
            self.connection.exec_driver_sql("BEGIN IMMEDIATE")

    def _resolve_sites(self, site_ids):
        wanted = [site for site in site_ids if site not in self.site_pks]
        wanted = [site for site in wanted if site not in self.unknown_sites]
        if not wanted:
            return
        self._load_sites(wanted)
        missing = [site for site in wanted if site not in self.site_pks]
        if missing and self.auto_create:
            rows = [
                {
                    "organization_id": self.organization_id,
                    "site_id": site,
                    "name": site,
                    "timezone": self.timezone,
                }
                for site in missing
            ]
            for part in chunks(rows, 1000):
                self.connection.execute(_insert(self.connection, Site.__table__), part)
            self._load_sites(missing)
            missing = [site for site in missing if site not in self.site_pks]
        self.unknown_sites.update(missing)

    def _load_sites(self, site_ids):
        if len(site_ids) == 1:
            found = self.connection.execute(
                self.find_site, {"organization_id": self.organization_id, "site_id": site_ids[0]}
            )
            self.site_pks.update((site_id, pk) for site_id, pk in found)
            return
        for part in chunks(site_ids):
            found = self.connection.execute(
                self.find_sites, {"organization_id": self.organization_id, "site_ids": part}
            )
            self.site_pks.update((site_id, pk) for site_id, pk in found)

    def _load_meters(self, pairs):
        # site_pk IN (…) AND meter_id IN (…) may match more than the pairs asked for (a
        # meter name on another of the sites); the extra rows are harmless and cached too.
        site_ids = {pk: site for site, pk in self.site_pks.items()}
        for part in chunks(pairs, CHUNK // 2):
            if len(part) == 1:
                ((site, meter),) = part
                found = self.connection.execute(
                    self.find_meter,
                    {
                        "organization_id": self.organization_id,
                        "site_pk": self.site_pks[site],
                        "meter_id": meter,
                    },
                )
            else:
                found = self.connection.execute(
                    self.find_meters,
                    {
                        "organization_id": self.organization_id,
                        "site_pks": sorted({self.site_pks[site] for site, _ in part}),
                        "meter_ids": sorted({meter for _, meter in part}),
                    },
                )
            for site_pk, meter_id, meter_pk, interval in found:
                self.meters[site_ids[site_pk], meter_id] = KnownMeter(meter_pk, interval)
                self.site_of_meter[meter_pk] = site_pk


def infer_intervals(readings, pairs, declared):
    """Return the interval of each new meter in ``pairs``: declared, else inferred, else 60.

    ``readings`` are ``(site_id, meter_id, ts)`` of the checked records; a meter whose
    readings are 15 minutes apart gets 15, anything hourly or coarser keeps the default.
    """
    wanted = {pair for pair in pairs if pair not in declared}
    intervals = {pair: declared[pair] for pair in pairs if pair in declared}
    stamps = {}
    for site, meter, ts in readings:
        pair = (site, meter)
        if pair in wanted:
            stamps.setdefault(pair, set()).add(ts)
    for pair, seen in stamps.items():
        ordered = sorted(seen)
        gaps = {later - earlier for earlier, later in zip(ordered, ordered[1:], strict=False)}
        if gaps:
            smallest = min(gaps)
            if smallest % 60 == 0 and smallest // 60 in SUB_HOURLY_INTERVALS:
                intervals[pair] = smallest // 60
    return intervals
