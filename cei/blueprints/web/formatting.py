"""How the web pages show numbers and times: units always, times in a named timezone."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from cei.blueprints.web.blueprint import bp

DASH = "—"
# Above this many kWh a figure reads better in MWh.
MWH_FROM_KWH = 10_000
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


def format_energy(kwh):
    """Return ``kwh`` as text with its unit: ``812.4 kWh``, ``1,250 kWh`` or ``12.35 MWh``."""
    if kwh is None:
        return DASH
    if abs(kwh) >= MWH_FROM_KWH:
        return f"{kwh / 1000:,.2f} MWh"
    if abs(kwh) >= 100:
        return f"{kwh:,.0f} kWh"
    return f"{kwh:,.1f} kWh"


def format_money(amount, currency="EUR"):
    """Return ``amount`` with its currency: ``€1,234``, ``€56.70`` or ``1,234 CHF``."""
    if amount is None:
        return DASH
    digits = f"{amount:,.0f}" if abs(amount) >= 1000 else f"{amount:,.2f}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    if symbol:
        return f"-{symbol}{digits[1:]}" if digits.startswith("-") else f"{symbol}{digits}"
    return f"{digits} {currency}"


def format_percent(value, signed=False):
    """Return a percentage (``98.5 %``; ``+12.0 %`` when ``signed``)."""
    if value is None:
        return DASH
    return f"{value:+.1f} %" if signed else f"{value:.1f} %"


def format_co2(kg):
    """Return kilograms of CO₂-equivalent (``t CO₂e`` from 10 tonnes)."""
    if kg is None:
        return DASH
    if abs(kg) >= 10_000:
        return f"{kg / 1000:,.1f} t CO₂e"
    return f"{kg:,.0f} kgCO₂e"


def as_datetime(moment):
    """Return an aware UTC datetime for epoch seconds, an ISO 8601 string or a datetime."""
    if isinstance(moment, int | float):
        return datetime.fromtimestamp(moment, UTC)
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def format_time(moment, zone_name, short=False):
    """Return ``<time>`` showing ``moment`` in ``zone_name`` with the zone named.

    ``short`` leaves out the year when it is the current one (for tables).
    """
    if moment is None:
        return Markup(f'<span class="muted">{DASH}</span>')  # nosec B704 - a constant
    moment = as_datetime(moment)
    local = moment.astimezone(ZoneInfo(zone_name))
    same_year = local.year == datetime.now(local.tzinfo).year
    date = f"{local:%d %b}" if short and same_year else f"{local:%d %b %Y}"
    text = f"{date} {local:%H:%M} {local.tzname()}"
    # Markup.format escapes every argument.
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), zone_name, text
    )


def format_change(value):
    """Return a signed percentage with an arrow and a class: up is worse (more energy)."""
    if value is None:
        return Markup(f'<span class="muted">{DASH}</span>')  # nosec B704 - a constant
    if abs(value) < 0.5:
        arrow, tone, words = "→", "flat", "about the same"
    elif value > 0:
        arrow, tone, words = "▲", "up", "more"
    else:
        arrow, tone, words = "▼", "down", "less"
    return Markup(
        '<span class="change change-{}"><span aria-hidden="true">{}</span> {}'
        '<span class="visually-hidden"> ({})</span></span>'
    ).format(tone, arrow, format_percent(value, signed=True), escape(words))


for _name, _function in {
    "energy": format_energy,
    "money": format_money,
    "percent": format_percent,
    "co2": format_co2,
    "site_time": format_time,
    "change": format_change,
}.items():
    bp.add_app_template_filter(_function, _name)
