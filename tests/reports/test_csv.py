"""The CSV: the daily figures of every site, then the alerts; formulas neutralised."""

import csv
import io

from cei.services.reports.csv import ALERT_HEADER, DAY_HEADER, render_csv
from tests.reports import samples


def blocks(data):
    """Return ``(day rows, alert rows)`` as dicts, read back with the csv module."""
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    split = rows.index([])
    days, alerts = rows[:split], rows[split + 1 :]
    assert days[0] == list(DAY_HEADER) and alerts[0] == list(ALERT_HEADER)
    return (
        [dict(zip(days[0], row, strict=True)) for row in days[1:]],
        [dict(zip(alerts[0], row, strict=True)) for row in alerts[1:]],
    )


def number(cell):
    return None if cell == "" else float(cell)


def test_csv_rows_equal_the_daily_figures():
    period = samples.site_report().period
    one = samples.site_report(missing=[period.start_ts + 3600 * 30], alerts=[samples.alert()])
    two = samples.site_report(site_ref=samples.site("plant-2", "Plant Two"), expected=None)
    report = samples.report([one, two])
    data = render_csv(report)
    assert data.startswith("\ufeff".encode())
    days, alerts = blocks(data)
    expected = [(site, day) for site in (one, two) for day in site.days]
    assert len(days) == len(expected) == 14
    for row, (site, day) in zip(days, expected, strict=True):
        assert row["section"] == "day"
        assert (row["site_id"], row["site_name"], row["date"]) == (
            site.site_id,
            site.name,
            day.day.isoformat(),
        )
        assert int(row["hours"]) == day.hours
        assert int(row["hours_with_data"]) == day.hours_with_data
        assert number(row["kwh"]) == day.kwh
        assert number(row["baseline_kwh"]) == day.baseline_kwh
        assert number(row["deviation_pct"]) == day.deviation_pct
        assert number(row["cost"]) == day.cost and row["currency"] == "EUR"
        assert number(row["co2e_kg"]) == day.co2e_kg
        assert row["peak_hour"] == (day.peak_hour or "")
    assert days[1]["hours_with_data"] == "23"
    assert {row["baseline_kwh"] for row in days[7:]} == {""}  # no baseline: empty, not 0
    assert [row["kind"] for row in alerts] == ["night_waste"]
    assert alerts[0]["period_start"] == "2026-11-18T22:00:00+00:00"
    assert number(alerts[0]["kwh_impact"]) == 32.5


def test_formula_looking_cells_are_neutralised():
    name = '=HYPERLINK("http://evil.example","click")'
    site = samples.site_report(
        site_ref=samples.site("@plant", name),
        alerts=[samples.alert(site_id="@plant", message="+cmd|' /C calc'!A0", meter_id="-m1")],
        load=lambda ts: 5.0,
        expected=lambda ts: 10.0,  # negative deviations stay numbers
    )
    days, alerts = blocks(render_csv(samples.report([site])))
    assert days[0]["site_id"] == "'@plant"
    assert days[0]["site_name"] == "'" + name
    assert float(days[0]["deviation_pct"]) == -50.0
    assert alerts[0]["message"] == "'+cmd|' /C calc'!A0"
    assert alerts[0]["meter_id"] == "'-m1"
