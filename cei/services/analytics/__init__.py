"""Analytics services: from new data to KPIs, series, opportunities and alerts.

- ``due``: ingestion marks sites with new data (``mark_sites_due``, same transaction).
- ``runs``: queued → running → succeeded/failed rows, one queued per site.
- ``analyse``: ``analyse_site`` reads a site's data, runs the plugins and keeps the results.
- ``alerts``: findings become deduplicated alerts; people ack, resolve, mute, re-open.
- ``results``: what the API reads back (KPIs, baseline, forecast, opportunities, portfolio).
- ``settings``: the organization's money, carbon and deviation settings.
- ``inputs``: the one seam with the rollups and the plugin registry (replaced at merge).
"""

from cei.services.analytics.due import mark_sites_due

__all__ = ["mark_sites_due"]
