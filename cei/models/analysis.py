"""Analysis bookkeeping: sites with new data waiting for analysis, runs, and latest results.

``due_analyses`` is written by ingestion in the same transaction as the readings (one row per
site, upserted), so no data is ever committed without its site being marked for analysis,
whether Redis is up or not. The dispatcher turns due rows into ``analysis_runs`` (at most one
queued run per site, enforced by a partial unique index) and hands those to the job queue.
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cei.extensions import db
from cei.models.types import UTCDateTime, utcnow

RUN_STATUSES = ("queued", "running", "succeeded", "failed")
TRIGGERS = ("new_data", "hourly", "manual")


class DueAnalysis(db.Model):
    """A site with data that no analysis has seen yet."""

    __tablename__ = "due_analyses"

    site_pk: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    # When the oldest unseen data arrived (kept by later marks): freshness is measured from it.
    due_since = mapped_column(UTCDateTime, nullable=False)
    marked_at = mapped_column(UTCDateTime, nullable=False)
    # Bumped by every mark; the dispatcher deletes the row only if it did not move meanwhile.
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=1)


class AnalysisRun(db.Model):
    """One analysis of one site: queued, then running, then succeeded or failed."""

    __tablename__ = "analysis_runs"
    __table_args__ = (
        Index("ix_analysis_runs_site_pk_queued_at", "site_pk", "queued_at"),
        Index("ix_analysis_runs_organization_id_id", "organization_id", "id"),
        Index("ix_analysis_runs_status", "status"),
        # At most one queued run per site: the dispatcher, the hourly re-run and manual runs
        # all insert with ON CONFLICT DO NOTHING against this index.
        Index(
            "uq_analysis_runs_queued_site",
            "site_pk",
            unique=True,
            sqlite_where=text("status = 'queued'"),
            postgresql_where=text("status = 'queued'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    site_pk: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    trigger: Mapped[str] = mapped_column(String(16), nullable=False)
    queued_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # When the oldest data this run answers to arrived (new_data runs), for freshness.
    due_since = mapped_column(UTCDateTime)
    # When the job queue accepted the run (None: not handed over yet, e.g. Redis was down).
    enqueued_at = mapped_column(UTCDateTime)
    started_at = mapped_column(UTCDateTime)
    finished_at = mapped_column(UTCDateTime)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    # Time spent reading the site's data, part of duration_ms (the bench reports the share).
    read_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    # {plugin name: {status, duration_ms, error, findings, opportunities, data}}
    plugins: Mapped[dict | None] = mapped_column(JSON)

    site = relationship("Site", lazy="joined")


class SiteAnalysis(db.Model):
    """The latest results of a site's analysis: KPIs, series and opportunities."""

    __tablename__ = "site_analyses"

    site_pk: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    run_id: Mapped[int | None] = mapped_column(Integer)
    analysed_at = mapped_column(UTCDateTime, nullable=False)  # the analysis' "now"
    updated_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    kpis: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    # The series are loaded only when asked for (the KPIs and the portfolio do not need them).
    # {"timezone", "points": [[utc_epoch, actual|None, expected|None], ...], "quality": {...}}
    baseline: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict, deferred=True)
    # {"method", "points": [[utc_epoch, expected, lower, upper], ...], "details": {...}}
    forecast: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict, deferred=True)
    opportunities: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
