"""The PDF: the report's data through a Jinja template, laid out by WeasyPrint.

WeasyPrint may only read the app's own static folder (the report's stylesheet): the URL
fetcher refuses every other URL (http, https, data, ftp, files elsewhere), so a site name or
a note that smuggled markup past the escaping still could not make the server fetch anything.
Text is escaped by Jinja's autoescape; the charts are SVG built here from numbers.
"""

from __future__ import annotations

import logging
import mimetypes
import os
from urllib.parse import unquote, urlsplit
from urllib.request import pathname2url, url2pathname

from flask import current_app

from cei.services.reports import charts, formats

log = logging.getLogger("cei.reports")

TEMPLATE = "reports/report.html"
JINJA_KEY = "cei.reports.jinja"


class FetchRefused(Exception):
    """The report asked for a resource outside the app's static folder."""


def static_only_fetcher(root):
    """Return a WeasyPrint URL fetcher that serves files below ``root`` and refuses the rest.

    The fetcher's ``requested`` list keeps every URL asked for and ``refused`` the refused
    ones, for logs and tests.
    """
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        """Files of the static folder only; nothing over the network, nothing else on disk."""

        def __init__(self):
            super().__init__(allowed_protocols=("file",), allow_redirects=False)
            self.root = os.path.realpath(root)
            self.requested = []
            self.refused = []

        def local_path(self, url):
            """Return the file ``url`` names inside ``root``, or None."""
            parts = urlsplit(url)
            if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
                return None
            path = os.path.realpath(url2pathname(unquote(parts.path)))
            if os.path.commonpath([self.root, path]) != self.root or not os.path.isfile(path):
                return None
            return path

        def fetch(self, url, headers=None):
            """Return the static file ``url`` names; raise :class:`FetchRefused` otherwise."""
            self.requested.append(url)
            path = self.local_path(url)
            if path is None:
                self.refused.append(url)
                log.warning("report rendering refused to fetch %r", url[:200])
                raise FetchRefused(f"refused to fetch {url[:200]!r}")
            with open(path, "rb") as handle:
                body = handle.read()
            media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
            return URLFetcherResponse(url, body, {"Content-Type": media_type})

    return StaticOnlyFetcher()


def static_base_url(app=None):
    """The ``file://`` URL of the static folder, which relative links in the template use."""
    app = app or current_app
    return "file://" + pathname2url(os.path.realpath(app.static_folder)) + "/"


def _environment(app):
    """The app's Jinja environment with the report's number filters (autoescape on)."""
    env = app.extensions.get(JINJA_KEY)
    if env is None:
        env = app.jinja_env.overlay(autoescape=True)
        env.filters.update(formats.FILTERS)
        app.extensions[JINJA_KEY] = env
    return env


def chart_set(report):
    """Return ``{site_id: {"daily": svg, "profile": svg}}`` for every site of the report."""
    return {
        site.site_id: {
            "daily": charts.daily_chart(site.days),
            "profile": charts.profile_chart(site.profile),
        }
        for site in report.sites
    }


def render_html(report, app=None):
    """Return the report as the HTML WeasyPrint lays out."""
    app = app or current_app._get_current_object()
    template = _environment(app).get_template(TEMPLATE)
    return template.render(report=report, charts=chart_set(report))


def render_pdf(report, app=None, fetcher=None):
    """Return the report as PDF bytes (A4, numbered pages)."""
    from weasyprint import HTML

    app = app or current_app._get_current_object()
    fetcher = fetcher or static_only_fetcher(app.static_folder)
    html = HTML(string=render_html(report, app), base_url=static_base_url(app), url_fetcher=fetcher)
    return html.write_pdf()
