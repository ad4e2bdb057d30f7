"""Schema of the portfolio: every site's latest figures and the totals."""

import marshmallow as ma

from cei.services.analytics.results import PORTFOLIO_FIGURES


def _figure(name):
    description = "kgCO2e" if name.endswith("_co2e_kg") else None
    if name.endswith("_cost"):
        description = "In the organization's currency"
    return ma.fields.Float(
        allow_none=True, metadata={"description": description} if description else {}
    )


PortfolioSiteSchema = ma.Schema.from_dict(
    {
        "site_id": ma.fields.String(),
        "name": ma.fields.String(),
        "timezone": ma.fields.String(),
        "state": ma.fields.String(metadata={"description": "pending or analysed"}),
        "analysed_at": ma.fields.DateTime(allow_none=True),
        **{name: _figure(name) for name in PORTFOLIO_FIGURES},
        "open_alerts": ma.fields.Integer(metadata={"description": "Open or acknowledged"}),
        "open_critical_alerts": ma.fields.Integer(),
        "opportunities": ma.fields.Integer(metadata={"description": "Savings opportunities"}),
        "opportunities_per_year_kwh": _figure("opportunities_per_year_kwh"),
        "opportunities_per_year_cost": _figure("opportunities_per_year_cost"),
    },
    name="PortfolioSiteSchema",
)


class PortfolioSchema(ma.Schema):
    """Every site of the organization with its 24 h and 7 d figures, and the totals."""

    currency = ma.fields.String()
    alerts_enabled = ma.fields.Boolean()
    sites = ma.fields.List(ma.fields.Nested(PortfolioSiteSchema))
    totals = ma.fields.Dict(
        metadata={"description": "Sums of the sites' figures; deviation over sites with a baseline"}
    )
