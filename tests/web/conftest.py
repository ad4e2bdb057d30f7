"""Fixtures for the web pages: a served app with CSRF on, one browser per module, screenshots.

Browser tests share one Chromium per module and one served app per module (each test signs
up its own organization, so they do not see each other's data); every page gets a fresh
browser context. Pages are served with a strict Content-Security-Policy (no inline
scripts or styles), and any console error or CSP violation fails the test.
"""

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cei import create_app
from cei.extensions import db
from tests.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    FAST_ARGON2,
    LiveServer,
    _empty_tables,
    need_server,
)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("CEI_TEST_ARTIFACTS") or ROOT / "test-artifacts") / "web"
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
PASSWORD = "a long enough password"


def web_config(database_url, **overrides):
    """The config of an app for web tests: CSRF on, fast password hashing."""
    return {
        "DATABASE_URL": database_url,
        "TESTING": True,
        "SECRET_KEY": "web-test-secret-key-" + "x" * 32,
        "WTF_CSRF_ENABLED": True,
        "REDIS_URL": None,
        "RATELIMIT_ENABLED": False,
        # Analyses run when a test asks (POST /api/v1/analytics/run runs them in the
        # request), never behind its back from a background thread (whose connections
        # would also hold locks across tests).
        "ANALYTICS_BACKGROUND": False,
        "JOBS_INLINE": True,
        **FAST_ARGON2,
        **overrides,
    }


def add_strict_csp(app):
    """Send the CSP the app will have in production, so an inline script fails the test."""

    from flask import request

    @app.after_request
    def content_security_policy(response):
        # Swagger UI (/docs) is not ours and starts itself with an inline script.
        if not request.path.startswith("/docs"):
            response.headers.setdefault("Content-Security-Policy", STRICT_CSP)
        return response

    return app


@pytest.fixture(scope="module")
def web_app(database_url):
    """One app per module on the emptied test database, with CSRF and a strict CSP."""
    app = add_strict_csp(create_app(web_config(database_url)))
    with app.app_context():
        _empty_tables()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def live_url(web_app):
    """The module's app served over real HTTP on 127.0.0.1."""
    server = LiveServer(web_app)
    yield server.url
    server.close()


@pytest.fixture(scope="module")
def browser():
    """One headless Debian Chromium for the module."""
    if not os.path.exists(CHROMIUM):
        need_server("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


class Problems(list):
    """Console errors, page errors and failed requests seen by a page."""

    def check(self):
        """Fail with every problem seen so far, then forget them."""
        seen = list(self)
        self.clear()
        assert not seen, "browser reported problems:\n" + "\n".join(seen)


def _console(problems, message):
    # A page answered with 4xx on purpose logs "Failed to load resource"; failed
    # sub-resources are caught by _response instead.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        problems.append(f"console error: {message.text} ({message.location.get('url')})")


def _response(problems, response):
    if response.status >= 400 and response.request.resource_type != "document":
        problems.append(f"{response.status} for {response.request.resource_type} {response.url}")


@pytest.fixture
def page(browser, request):
    """A fresh browser context and page; fails the test on console errors or CSP violations."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15000)
    problems = Problems()
    tab.on("console", lambda message: _console(problems, message))
    tab.on("response", lambda response: _response(problems, response))
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.problems = problems
    yield tab
    context.close()


@pytest.fixture
def shoot(request):
    """Return ``shoot(page, name)``: save a full-page screenshot as a test artifact."""
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    count = [0]

    def save(tab, name):
        count[0] += 1
        path = folder / f"{count[0]:02d}-{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        return path

    return save


def sign_up_in_browser(tab, base, email, organization="Plant Forty-Two"):
    """Create an organization through the sign-up page; land on the dashboard."""
    tab.goto(base + "/signup")
    tab.fill("#organization_name", organization)
    tab.fill("#full_name", "Grace Hopper")
    tab.fill("#email", email)
    tab.fill("#password", PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_url(re.compile(re.escape(base) + r"/$"))


def hour_start(hours_ago=0):
    """Return the start of the UTC hour ``hours_ago`` hours before the current one."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=hours_ago)


def iso(moment):
    """Format an aware datetime as ISO 8601 with ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button, [role=img]')]
  .filter(el => el.type !== 'hidden' && !el.hidden)
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !(el.tagName === 'BUTTON' && el.textContent.trim()))
  .map(el => el.outerHTML.slice(0, 120))"""


def unlabelled_controls(tab):
    """Return the form controls, buttons and images of the page that have no accessible name,
    and the ids used more than once (a label may then name the wrong control)."""
    ids = tab.evaluate("() => [...document.querySelectorAll('[id]')].map(el => el.id)")
    duplicates = sorted({f"duplicate id {name}" for name in ids if ids.count(name) > 1})
    return tab.evaluate(UNLABELLED) + duplicates


def feed_and_analyse(app, organization_id, site_id="plant-1", days=35, **planted):
    """Send a synthetic factory's hourly data (``planted``: night waste, spikes …, see
    :func:`cei.synthetic.make_factory`) through the ingestion service up to the current
    hour, then run the real analysis on the site once; return its ``AnalysisRun`` id."""
    from cei.models import Organization
    from cei.services import ingest
    from cei.services import sites as site_service
    from cei.services.analytics.analyse import analyse_site
    from cei.synthetic import make_factory

    synthetic = make_factory(
        timezone="Europe/Rome", days=days, end=hour_start(0), seed=11, **planted
    ).series
    records = [
        {"site_id": site_id, "meter_id": "main", "timestamp_utc": iso(ts), "value": float(kwh)}
        for ts, kwh in synthetic.dropna().items()
    ]
    with app.app_context():
        organization = db.session.get(Organization, organization_id)
        for start in range(0, len(records), ingest.MAX_BATCH_RECORDS):
            result = ingest.ingest_batch(
                organization, records[start : start + ingest.MAX_BATCH_RECORDS]
            )
            assert result.failed == 0, result.errors
        db.session.commit()
        site = site_service.get_site(organization, site_id)
        run_id = analyse_site(site.id, "manual").id
        db.session.commit()
    return run_id
