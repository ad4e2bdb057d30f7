"""Organizations: the tenant that owns users, tokens, sites and readings."""

from sqlalchemy import Boolean, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cei.extensions import db
from cei.models.types import UTCDateTime, utcnow

STARTER_PLAN = "cei-starter"
# Default grid emission factor, kgCO2e per kWh: EU-27 electricity generation in 2023, about
# 210 g CO2e/kWh (EEA indicator "Greenhouse gas emission intensity of electricity generation
# in Europe": 58 % below 1990's 510 g CO2e/kWh). Organizations set their own (national grid,
# supplier contract); sites may override it.
DEFAULT_EMISSION_FACTOR = 0.21
# Above any real grid (coal-only generation is about 1 kgCO2e/kWh): a typo in g/kWh is caught.
MAX_EMISSION_FACTOR = 2.0
DEFAULT_DEVIATION_WARNING_PCT = 10.0
DEFAULT_DEVIATION_CRITICAL_PCT = 30.0


class Organization(db.Model):
    """A customer (a company with one or more factories)."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    subscription_plan_key: Mapped[str] = mapped_column(
        String(64), nullable=False, default=STARTER_PLAN
    )
    subscription_status: Mapped[str] = mapped_column(String(32), nullable=False, default="active")
    enable_alerts: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    enable_reports: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="EUR")
    tariff_per_kwh: Mapped[float] = mapped_column(Float, nullable=False, default=0.20)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    auto_create_sites: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    emission_factor_kg_per_kwh: Mapped[float] = mapped_column(
        Float, nullable=False, default=DEFAULT_EMISSION_FACTOR
    )
    # Deviation from the baseline (24 h, 7 d) that raises a warning / critical alert, in %.
    deviation_warning_pct: Mapped[float] = mapped_column(
        Float, nullable=False, default=DEFAULT_DEVIATION_WARNING_PCT
    )
    deviation_critical_pct: Mapped[float] = mapped_column(
        Float, nullable=False, default=DEFAULT_DEVIATION_CRITICAL_PCT
    )
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    def plan_flags(self):
        """Return the four plan flags as a dict."""
        return {
            "subscription_plan_key": self.subscription_plan_key,
            "enable_alerts": self.enable_alerts,
            "enable_reports": self.enable_reports,
            "subscription_status": self.subscription_status,
        }
