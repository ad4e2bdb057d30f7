"""Numbers carry their units and times name their zone."""

from datetime import UTC, datetime

import pytest

from cei.blueprints.web.formatting import (
    format_change,
    format_co2,
    format_energy,
    format_money,
    format_percent,
    format_time,
)


@pytest.mark.parametrize(
    ("kwh", "text"),
    [
        (None, "—"),
        (0, "0.0 kWh"),
        (12.345, "12.3 kWh"),
        (812.4, "812 kWh"),
        (9_999.4, "9,999 kWh"),
        (12_345.0, "12.35 MWh"),
        (2_500_000.0, "2,500.00 MWh"),
    ],
)
def test_energy_in_kwh_or_mwh(kwh, text):
    assert format_energy(kwh) == text


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (56.7, "EUR", "€56.70"),
        (1234.4, "EUR", "€1,234"),
        (-3.5, "GBP", "-£3.50"),
        (12.0, "CHF", "12.00 CHF"),
        (None, "EUR", "—"),
    ],
)
def test_money_with_its_currency(amount, currency, text):
    assert format_money(amount, currency) == text


def test_percentages_and_emissions():
    assert format_percent(98.456) == "98.5 %"
    assert format_percent(12, signed=True) == "+12.0 %"
    assert format_co2(812.2) == "812 kgCO₂e" and format_co2(25_000) == "25.0 t CO₂e"


def test_times_are_shown_in_the_zone_given_and_name_it():
    moment = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    rome = str(format_time(moment, "Europe/Rome"))
    assert ">01 Jul 2026 14:00 CEST<" in rome
    assert 'datetime="2026-07-01T12:00:00Z"' in rome and 'title="Europe/Rome"' in rome
    assert ">01 Jul 2026 08:00 EDT<" in str(format_time(moment.timestamp(), "America/New_York"))
    assert ">01 Jan 2026 09:00 JST<" in str(format_time("2026-01-01T00:00:00Z", "Asia/Tokyo"))
    assert "—" in str(format_time(None, "UTC"))


def test_changes_have_an_arrow_a_colour_and_words():
    up = str(format_change(12.0))
    assert "change-up" in up and "▲" in up and "+12.0 %" in up and "more" in up
    assert "change-down" in str(format_change(-8.0)) and "less" in str(format_change(-8.0))
    assert "change-flat" in str(format_change(0.2))
    assert "—" in str(format_change(None))


def test_tables_leave_out_the_current_year():
    this_year = datetime.now(UTC).replace(month=3, day=2, hour=9, minute=0)
    assert ">02 Mar 09:00 UTC<" in str(format_time(this_year, "UTC", short=True))
    last_year = this_year.replace(year=this_year.year - 1)
    assert f">02 Mar {last_year.year} 09:00 UTC<" in str(format_time(last_year, "UTC", short=True))
