"""How figures read in the PDF: one formatting rule per kind of number, shared by every table.

``None`` (unknown) is an en dash everywhere, so a missing figure never reads as zero.
"""

from __future__ import annotations

DASH = "–"
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF ", "JPY": "¥"}


def kwh(value, digits=1):
    """``1,234.5`` (kWh, without the unit)."""
    return DASH if value is None else f"{value:,.{digits}f}"


def money(value, currency="EUR"):
    """``€1,234.56``; a negative amount is ``−€12.00``."""
    if value is None:
        return DASH
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    sign = "−" if value < 0 else ""
    return f"{sign}{symbol}{abs(value):,.2f}"


def pct(value, digits=1):
    """``87.5 %`` (a share, unsigned)."""
    return DASH if value is None else f"{value:.{digits}f} %"


def signed_pct(value, digits=1):
    """``+4.2 %`` / ``−3.0 %`` (a change; zero is ``±0.0 %``)."""
    if value is None:
        return DASH
    text = f"{abs(value):.{digits}f} %"
    if text.strip("0. %") == "":
        return "±" + text
    return ("+" if value > 0 else "−") + text


def kg(value):
    """``1,234 kg`` of CO2e."""
    return DASH if value is None else f"{value:,.0f}"


FILTERS = {"kwh": kwh, "money": money, "pct": pct, "signed_pct": signed_pct, "kg": kg}
