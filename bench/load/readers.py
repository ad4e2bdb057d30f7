"""The read load: an integrator reading ``summary`` and ``series``, a person on the dashboard.

One thread per kind of read, each going round the app instances and the sites with a short
pause between requests (people and integrators do not read in a tight loop). The API reads
use a read-scoped integration token; the dashboard uses a session signed in through the
login form on one instance and sent to both (sessions are signed cookies, so any instance
takes them).
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import NamedTuple

import requests

KINDS = ("summary", "series", "dashboard")


class Read(NamedTuple):
    """One read as the client saw it."""

    kind: str
    started: float  # time.perf_counter()
    seconds: float
    status: int
    error: str | None


def _request(kind, http, base_url, site_id):
    if kind == "summary":
        return http.get(
            f"{base_url}/api/v1/timeseries/summary",
            params={"site_id": site_id, "window_hours": 24},
            timeout=60,
        )
    if kind == "series":
        return http.get(
            f"{base_url}/api/v1/timeseries/series",
            params={"site_id": site_id, "window_hours": 168, "resolution": "hour"},
            timeout=60,
        )
    return http.get(base_url + "/", allow_redirects=False, timeout=60)


def _problem(kind, response, site_ids):
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if kind == "summary" and "total_value" not in response.json():
        return "summary without total_value"
    if kind == "series" and len(response.json()["points"]) != 168:
        return f"series with {len(response.json()['points'])} points, not 168"
    if kind == "dashboard" and site_ids[0] not in response.text:
        return "dashboard without the sites"
    return None


class ReadLoad:
    """The reader threads and their timings."""

    def __init__(self, urls, read_token, web_session, site_ids, pause=0.2):
        self.urls = urls
        self.site_ids = site_ids
        self.pause = pause
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {read_token}"
        self.sessions = {"summary": api, "series": requests.Session(), "dashboard": web_session}
        self.sessions["series"].headers.update(api.headers)
        self.reads: list[Read] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = []

    def start(self):
        """Start one reader per kind; they read until ``stop`` is set."""
        for kind in KINDS:
            thread = threading.Thread(target=self._reader, args=(kind,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def finish(self):
        """Stop the readers and wait for their last request."""
        self.stop.set()
        for thread in self.threads:
            while thread.is_alive():
                thread.join(timeout=0.5)

    def _reader(self, kind):
        http = self.sessions[kind]
        places = itertools.cycle(itertools.product(self.urls, self.site_ids))
        while not self.stop.is_set():
            base_url, site_id = next(places)
            started = time.perf_counter()
            try:
                response = _request(kind, http, base_url, site_id)
                seconds = time.perf_counter() - started
                read = Read(kind, started, seconds, response.status_code, None)
                problem = _problem(kind, response, self.site_ids)
                if problem:
                    read = read._replace(error=problem)
            except (requests.RequestException, ValueError, KeyError) as exc:
                read = Read(kind, started, time.perf_counter() - started, 0, repr(exc))
            with self.lock:
                self.reads.append(read)
            self.stop.wait(self.pause)
