"""Sites and meters: where readings come from."""

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cei.extensions import db
from cei.models.types import UTCDateTime, utcnow

DEFAULT_SCHEDULE = {"days": [0, 1, 2, 3, 4], "start": "07:00", "end": "19:00"}


def default_schedule():
    """Mon–Fri 07:00–19:00 local time (weekday numbers: Monday = 0)."""
    return dict(DEFAULT_SCHEDULE, days=list(DEFAULT_SCHEDULE["days"]))


class Site(db.Model):
    """A factory or building, known to the factory by its external ``site_id``."""

    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("organization_id", "site_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    site_id: Mapped[str] = mapped_column(String(100), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    location: Mapped[str | None] = mapped_column(String(200))
    # {"days": [0..6], "start": "HH:MM", "end": "HH:MM"} in site-local time.
    schedule: Mapped[dict] = mapped_column(JSON, nullable=False, default=default_schedule)
    # Currency per kWh; None falls back to the organization's tariff.
    tariff_per_kwh: Mapped[float | None] = mapped_column(Float)
    # kgCO2e per kWh; None falls back to the organization's emission factor.
    emission_factor_kg_per_kwh: Mapped[float | None] = mapped_column(Float)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    meters = relationship(
        "Meter",
        back_populates="site",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Meter.meter_id",
    )


class Meter(db.Model):
    """A meter on a site, known by its external ``meter_id`` (unique per site)."""

    __tablename__ = "meters"
    __table_args__ = (UniqueConstraint("site_pk", "meter_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_pk: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), nullable=False)
    # Denormalised from the site so tenancy checks need no join.
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    meter_id: Mapped[str] = mapped_column(String(100), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    is_main: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    interval_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=60)
    # Whether a reading of this meter was ever replaced (on_conflict "update"). Until then the
    # value stored with each idempotency key is the meter's reading at that time, so a keyed
    # replay is told from the keys alone (cei.services.ingest.pipeline).
    corrected: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    site = relationship("Site", back_populates="meters")
