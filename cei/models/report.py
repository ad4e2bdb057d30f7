"""Reports: one 7-day report of a site or of the portfolio, its status and its files."""

from sqlalchemy import (
    JSON,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from cei.extensions import db
from cei.models.types import UTCDateTime, utcnow

REPORT_KINDS = ("site", "portfolio")
REPORT_STATUSES = ("queued", "running", "succeeded", "failed")
REPORT_TRIGGERS = ("manual", "scheduled")


class Report(db.Model):
    """A report asked for by a person (``manual``) or by the weekly schedule (``scheduled``).

    The PDF and CSV are kept in the row (deferred: listing reports never loads them).
    ``schedule_key`` names a scheduled slot (``weekly:<last day>``) and is unique per
    organization, so two schedulers never make the same weekly report twice.
    """

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("organization_id", "schedule_key"),
        Index("ix_reports_organization_id_id", "organization_id", "id"),
        Index("ix_reports_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    # The site of a site report (None for the portfolio); the report goes with its site.
    site_pk: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    site_id: Mapped[str | None] = mapped_column(String(100))  # external id, for file names
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    trigger: Mapped[str] = mapped_column(String(16), nullable=False, default="manual")
    schedule_key: Mapped[str | None] = mapped_column(String(64))
    period_first = mapped_column(Date, nullable=False)
    period_last = mapped_column(Date, nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    enqueued_at = mapped_column(UTCDateTime)
    started_at = mapped_column(UTCDateTime)
    finished_at = mapped_column(UTCDateTime)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    # Headline figures for listings: {kwh, cost, currency, deviation_pct, coverage_pct, sites}.
    summary: Mapped[dict | None] = mapped_column(JSON)
    pdf_size: Mapped[int | None] = mapped_column(Integer)
    csv_size: Mapped[int | None] = mapped_column(Integer)
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    csv: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
