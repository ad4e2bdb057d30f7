"""Money and carbon beside every kWh figure: one rule for tariff, currency and emission factor.

The tariff (currency per kWh) and the emission factor (kgCO2e per kWh) of a site are its own
when set, else its organization's; the currency is always the organization's. Every energy
figure the analytics publish goes through :func:`priced` so its cost and carbon sit beside it
under the same names (``<name>_kwh``, ``<name>_cost``, ``<name>_co2e_kg``).
"""

from __future__ import annotations

from dataclasses import dataclass

from cei.extensions import db
from cei.models import Organization


@dataclass(frozen=True)
class Factors:
    """What one kWh costs and emits on a site."""

    tariff: float  # currency per kWh
    currency: str
    emission_factor: float  # kgCO2e per kWh
    tariff_source: str  # "site" or "organization"
    emission_factor_source: str

    def cost(self, kwh):
        """Return the cost of ``kwh`` (None stays None), rounded to the cent."""
        return None if kwh is None else round(kwh * self.tariff, 2)

    def co2e_kg(self, kwh):
        """Return the kgCO2e of ``kwh`` (None stays None), rounded to 0.1 g."""
        return None if kwh is None else round(kwh * self.emission_factor, 4)

    def describe(self):
        """Return the factors as JSON, for the API."""
        return {
            "tariff_per_kwh": self.tariff,
            "currency": self.currency,
            "tariff_source": self.tariff_source,
            "emission_factor_kg_per_kwh": self.emission_factor,
            "emission_factor_source": self.emission_factor_source,
        }


def site_factors(site, organization=None):
    """Return the :class:`Factors` that apply to ``site``."""
    organization = organization or db.session.get(Organization, site.organization_id)
    site_tariff = site.tariff_per_kwh
    site_factor = site.emission_factor_kg_per_kwh
    return Factors(
        tariff=float(site_tariff if site_tariff is not None else organization.tariff_per_kwh),
        currency=organization.currency,
        emission_factor=float(
            site_factor if site_factor is not None else organization.emission_factor_kg_per_kwh
        ),
        tariff_source="site" if site_tariff is not None else "organization",
        emission_factor_source="site" if site_factor is not None else "organization",
    )


def priced(name, kwh, factors):
    """Return ``{name_kwh, name_cost, name_co2e_kg}`` for an energy figure (kWh or None)."""
    kwh = None if kwh is None else round(float(kwh), 3)
    return {
        f"{name}_kwh": kwh,
        f"{name}_cost": factors.cost(kwh),
        f"{name}_co2e_kg": factors.co2e_kg(kwh),
    }
