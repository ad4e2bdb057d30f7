"""7-day reports: what a plant director reads, per site and for the portfolio.

- ``data``: the report as plain dataclasses (figures only, nothing rendered).
- ``periods``: the 7 site-local days a report covers; the weekly schedule's due period.
- ``content``: builds the data from the analytics (baseline, KPIs, alerts, opportunities).
- ``charts``: server-side SVG (daily actual vs baseline, hourly profile), no JavaScript.
- ``pdf``: Jinja + WeasyPrint, with a URL fetcher that only reads the app's static folder.
- ``csv``: the daily table per site and the alerts, formula-looking cells neutralised.
- ``jobs``: report rows (queued → running → succeeded/failed), generation, the weekly run.
"""
