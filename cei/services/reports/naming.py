"""File names of reports: ``cei-<site>-<first day>_<last day>.pdf``, ASCII and header-safe."""

import re

UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(text, fallback="site"):
    """Return ``text`` reduced to a short ASCII token for a file name."""
    return UNSAFE.sub("_", text or "").strip("._-")[:60] or fallback


def file_name(report, extension):
    """Return ``cei-<site or portfolio>-<first>_<last>.<extension>`` for a report row."""
    name = slug(report.site_id) if report.kind == "site" else "portfolio"
    period = f"{report.period_first.isoformat()}_{report.period_last.isoformat()}"
    return f"cei-{name}-{period}.{extension}"
