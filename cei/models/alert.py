"""Alerts raised by the analytics, and the notes people add while handling them."""

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cei.extensions import db
from cei.models.types import UTCDateTime, utcnow

ALERT_STATUSES = ("open", "ack", "resolved", "muted")


class Alert(db.Model):
    """A condition found in a site's data; one row per condition and period (``dedupe_key``)."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("site_pk", "dedupe_key"),
        Index("ix_alerts_organization_id_status", "organization_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    site_pk: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), nullable=False)
    meter_id: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    severity: Mapped[str] = mapped_column(String(16), nullable=False)
    dedupe_key: Mapped[str] = mapped_column(String(255), nullable=False)
    period_start = mapped_column(UTCDateTime, nullable=False)
    period_end = mapped_column(UTCDateTime, nullable=False)
    kwh_impact: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    cost_impact: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="EUR")
    co2e_kg_impact: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    details: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    first_seen_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_seen_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    occurrences: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    reopened: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    acknowledged_at = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    resolved_at = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    muted_at = mapped_column(UTCDateTime)
    muted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    site = relationship("Site", lazy="joined")
    notes = relationship(
        "AlertNote",
        back_populates="alert",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="AlertNote.id",
    )


class AlertNote(db.Model):
    """A note on an alert (who, when, what), e.g. written with a status change."""

    __tablename__ = "alert_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text, nullable=False)
    # The status change the note came with, if any (e.g. "ack"); "reopened" by the analysis.
    status_change: Mapped[str | None] = mapped_column(String(16))
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    alert = relationship("Alert", back_populates="notes")
    user = relationship("User", lazy="joined")
