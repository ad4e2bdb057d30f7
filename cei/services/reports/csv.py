"""The report's figures as CSV: the daily table of every site, then the alerts of the period.

Two blocks, each with its own header and a first column naming the block (``day`` /
``alert``), separated by an empty line, so a spreadsheet shows both and a program can filter
on the first column. Text cells that a spreadsheet would run as a formula are neutralised by
the export module's rule; numbers are written as plain numbers (unknown = empty cell).
"""

from __future__ import annotations

from cei.services.export import csv_text

DAY_HEADER = (
    "section",
    "site_id",
    "site_name",
    "date",
    "hours",
    "hours_with_data",
    "kwh",
    "baseline_kwh",
    "deviation_pct",
    "cost",
    "currency",
    "co2e_kg",
    "peak_hour",
    "peak_kwh",
)
ALERT_HEADER = (
    "section",
    "site_id",
    "kind",
    "severity",
    "status",
    "period_start",
    "period_end",
    "meter_id",
    "kwh_impact",
    "cost_impact",
    "currency",
    "message",
)


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(round(value, 6))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return csv_text(str(value))


def _line(values):
    return ",".join(_cell(value) for value in values) + "\r\n"


def day_rows(report):
    """Yield the daily table of every site as tuples in ``DAY_HEADER`` order."""
    for site in report.sites:
        for day in site.days:
            yield (
                "day",
                site.site_id,
                site.name,
                day.day,
                day.hours,
                day.hours_with_data,
                day.kwh,
                day.baseline_kwh,
                day.deviation_pct,
                day.cost,
                site.currency,
                day.co2e_kg,
                day.peak_hour,
                day.peak_kwh,
            )


def alert_rows(report):
    """Yield the alerts of the period as tuples in ``ALERT_HEADER`` order."""
    currency = {site.site_id: site.currency for site in report.sites}
    for site in report.sites:
        for alert in site.alerts:
            yield (
                "alert",
                alert.site_id,
                alert.kind,
                alert.severity,
                alert.status,
                alert.period_start,
                alert.period_end,
                alert.meter_id,
                alert.kwh_impact,
                alert.cost_impact,
                currency[site.site_id],
                alert.message,
            )


def render_csv(report):
    """Return the report's CSV as UTF-8 bytes (with a BOM, so spreadsheets read € right)."""
    lines = [_line(DAY_HEADER)]
    lines += [_line(row) for row in day_rows(report)]
    lines.append("\r\n")
    lines.append(_line(ALERT_HEADER))
    lines += [_line(row) for row in alert_rows(report)]
    return ("\ufeff" + "".join(lines)).encode("utf-8")
