"""The ``gaps`` plugin: meters that stopped reporting or cover too little of the last 24 h."""

from __future__ import annotations

import math

import pandas as pd

from cei.plugins.base import AnalysisContext, Finding, MeterStatus, PluginResult

METHOD = (
    "A meter is silent when at least {intervals} of its intervals (and {minutes} minutes, one "
    "upload cycle of an hourly client plus its delay) have ended since its newest reading "
    "ended; silent for {critical_hours} h or more is critical. Otherwise its coverage is the "
    "share of its intervals of the last 24 h that have a reading; under {coverage:.0%} is "
    "low coverage."
)


class GapsPlugin:
    """gaps: meters that stopped reporting, or whose last 24 h coverage fell under 90 %.

    Reads ``context.meters`` (one :class:`MeterStatus` per meter), not the series.
    """

    name = "gaps"
    version = "1.0.0"
    requires: tuple[str, ...] = ()
    default_params = {
        "silent_intervals": 3,
        # Hourly clients send sub-hourly meters' readings once an hour: a 5-minute meter is
        # not silent after 15 minutes, only once an upload is late.
        "min_silent_minutes": 120,
        "critical_after_hours": 24,
        "min_coverage": 0.9,
    }

    def run(self, context: AnalysisContext) -> PluginResult:
        """Check every meter of the site for silence and low coverage."""
        params = {**self.default_params, **(context.params or {})}
        now = pd.Timestamp(context.now).tz_convert("UTC")
        result = PluginResult(
            data={
                "method": METHOD.format(
                    intervals=params["silent_intervals"],
                    minutes=params["min_silent_minutes"],
                    critical_hours=params["critical_after_hours"],
                    coverage=params["min_coverage"],
                ),
                "meters": [],
            }
        )
        for meter in context.meters:
            status, finding = _check(meter, now, context.timezone, params)
            result.data["meters"].append(status)
            if finding is not None:
                result.findings.append(finding)
        counts = {}
        for status in result.data["meters"]:
            counts[status["status"]] = counts.get(status["status"], 0) + 1
        result.data["counts"] = counts
        return result


def _check(meter: MeterStatus, now, timezone, params):
    """Return the meter's status entry and its finding (or None)."""
    interval = pd.Timedelta(minutes=meter.interval_minutes)
    coverage = (meter.received_24h / meter.expected_24h) if meter.expected_24h > 0 else None
    status = {
        "meter_id": meter.meter_id,
        "is_main": meter.is_main,
        "interval_minutes": meter.interval_minutes,
        "last_seen": None if meter.last_seen is None else _utc(meter.last_seen).isoformat(),
        "coverage_24h": None if coverage is None else round(coverage, 4),
        "silent_minutes": None,
        "status": "ok",
    }
    if meter.last_seen is None:
        if meter.expected_24h <= 0:
            status["status"] = "no_data_expected"
            return status, None
        status["status"] = "never_reported"
        return status, Finding(
            kind="meter_silent",
            severity="warning",
            key=f"meter_silent:{meter.meter_id}:never",
            period_start=now - pd.Timedelta(hours=24),
            period_end=now,
            message=f"Meter {meter.meter_id} has never sent a reading",
            meter_id=meter.meter_id,
            details={"interval_minutes": meter.interval_minutes, "since": None},
        )

    since = _utc(meter.last_seen) + interval  # end of the newest reading
    silence = max(now - since, pd.Timedelta(0))
    missed = math.floor(silence / interval)
    status["silent_minutes"] = round(silence.total_seconds() / 60.0, 1)
    if missed >= params["silent_intervals"] and silence >= pd.Timedelta(
        minutes=params["min_silent_minutes"]
    ):
        status["status"] = "silent"
        critical = silence >= pd.Timedelta(hours=params["critical_after_hours"])
        local_since = since.tz_convert(timezone)
        return status, Finding(
            kind="meter_silent",
            severity="critical" if critical else "warning",
            key=f"meter_silent:{meter.meter_id}:{since.isoformat()}",
            period_start=since,
            period_end=now,
            message=(
                f"Meter {meter.meter_id} has sent nothing since "
                f"{local_since:%Y-%m-%d %H:%M} (site time): {missed} intervals missed"
            ),
            meter_id=meter.meter_id,
            details={
                "since": since.isoformat(),
                "missed_intervals": missed,
                "silent_minutes": status["silent_minutes"],
                "interval_minutes": meter.interval_minutes,
                "is_main": meter.is_main,
            },
        )
    if coverage is not None and coverage < params["min_coverage"]:
        status["status"] = "low_coverage"
        day = now.tz_convert(timezone).date().isoformat()
        return status, Finding(
            kind="low_coverage",
            severity="warning",
            key=f"low_coverage:{meter.meter_id}:{day}",
            period_start=now - pd.Timedelta(hours=24),
            period_end=now,
            message=(
                f"Meter {meter.meter_id} sent {meter.received_24h} of "
                f"{meter.expected_24h} readings in the last 24 hours ({coverage:.0%})"
            ),
            meter_id=meter.meter_id,
            details={
                "coverage": round(coverage, 4),
                "received": meter.received_24h,
                "expected": meter.expected_24h,
                "interval_minutes": meter.interval_minutes,
            },
        )
    return status, None


def _utc(stamp):
    stamp = pd.Timestamp(stamp)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
