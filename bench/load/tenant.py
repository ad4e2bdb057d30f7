"""The organization under load, made through the API as a customer would make it.

One organization (sign-up), an ingest token per load client (each stands for a factory),
a read token for the integrator reading back, and sites with their meters (the first meter
of each site is its main meter). The web reader signs in through the login form.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import NamedTuple

import requests

TIMEZONES = ("Europe/Rome", "America/New_York", "Asia/Tokyo", "UTC")
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Tenant(NamedTuple):
    """What the load clients need to know about the organization."""

    organization_id: int
    email: str
    password: str
    access_token: str
    ingest_tokens: list[str]
    read_token: str
    site_ids: list[str]
    meter_ids: list[str]


def _checked(response, expected):
    if response.status_code != expected:
        raise SystemExit(
            f"{response.request.method} {response.request.path_url} answered "
            f"{response.status_code}: {response.text[:300]}"
        )
    return response.json() if response.content else None


def site_id_of(number):
    """Return the external id of load site ``number`` (0-based)."""
    return f"load-{number + 1:02d}"


def meter_id_of(number):
    """Return the external id of meter ``number`` (0-based) of a load site."""
    return f"m{number:02d}"


def create_tenant(base_url, sites, meters, clients):
    """Sign up an organization and create its tokens, sites and meters; return a Tenant."""
    http = requests.Session()
    email = f"load-{time.time_ns()}@example.com"
    password = secrets.token_urlsafe(18)
    signup = _checked(
        http.post(
            base_url + "/api/v1/auth/signup",
            json={"email": email, "password": password, "organization_name": "Load Test Org"},
            timeout=60,
        ),
        201,
    )
    access = signup["access_token"]
    http.headers["Authorization"] = f"Bearer {access}"
    me = _checked(http.get(base_url + "/api/v1/auth/me", timeout=30), 200)

    def token(name, scopes):
        created = http.post(
            base_url + "/api/v1/auth/integration-tokens",
            json={"name": name, "scopes": scopes},
            timeout=30,
        )
        return _checked(created, 201)["token"]

    ingest_tokens = [token(f"factory-{n + 1}", ["ingest"]) for n in range(clients)]
    read_token = token("integrator", ["read"])
    site_ids = [site_id_of(n) for n in range(sites)]
    meter_ids = [meter_id_of(n) for n in range(meters)]
    for number, site_id in enumerate(site_ids):
        create_site(http, base_url, site_id, TIMEZONES[number % len(TIMEZONES)], meter_ids)
    return Tenant(
        me["organization_id"],
        email,
        password,
        access,
        ingest_tokens,
        read_token,
        site_ids,
        meter_ids,
    )


def create_site(http, base_url, site_id, timezone, meter_ids):
    """Create a site and its meters (the first one main) through the API."""
    _checked(
        http.post(
            base_url + "/api/v1/sites",
            json={"site_id": site_id, "name": f"Plant {site_id}", "timezone": timezone},
            timeout=30,
        ),
        201,
    )
    for number, meter_id in enumerate(meter_ids):
        _checked(
            http.post(
                f"{base_url}/api/v1/sites/{site_id}/meters",
                json={"meter_id": meter_id, "name": f"Meter {meter_id}", "is_main": number == 0},
                timeout=30,
            ),
            201,
        )


def delete_site(base_url, tenant, site_id):
    """Delete a site (and its data) through the API."""
    response = requests.delete(
        f"{base_url}/api/v1/sites/{site_id}",
        headers={"Authorization": f"Bearer {tenant.access_token}"},
        timeout=300,
    )
    _checked(response, 204)


def web_session(base_url, tenant):
    """Sign in through the login form; return a requests Session holding the cookie."""
    browser = requests.Session()
    page = browser.get(base_url + "/login", timeout=30)
    match = CSRF_FIELD.search(page.text)
    if page.status_code != 200 or match is None:
        raise SystemExit(f"login page: {page.status_code}, no CSRF field")
    answer = browser.post(
        base_url + "/login",
        data={"csrf_token": match.group(1), "email": tenant.email, "password": tenant.password},
        allow_redirects=False,
        timeout=60,
    )
    if answer.status_code != 302:
        raise SystemExit(f"login answered {answer.status_code}: {answer.text[:300]}")
    return browser


def request_analysis(base_url, tenant):
    """Ask for an analysis of every site (a manual trigger); return the answer's runs."""
    response = requests.post(
        base_url + "/api/v1/analytics/run",
        headers={"Authorization": f"Bearer {tenant.access_token}"},
        json={},
        timeout=60,
    )
    return _checked(response, 202)["runs"]
