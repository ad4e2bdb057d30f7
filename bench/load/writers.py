"""The write load: clients POSTing 1,000-record batches, one in ten an exact replay.

Each client stands for a factory: its own ingest token, its own site, its meters; batch
``block`` holds ``slots`` consecutive 15-minute readings of every meter, going back in time
from the current hour, so every new batch is new data. One batch in ``replay_every`` is an
exact replay instead, alternately of a batch already answered (it must come back wholly
``skipped_duplicate``) and of the batch another client is sending at that moment (two
clients sending the same readings at once: together they store each reading once).

The client is the standard library's ``http.client`` on a kept-alive connection, with the
body built as bytes from pre-formatted parts (``bench/ingest.py`` found ``requests`` adding
about 2 ms of client work to a batch, on the CPUs the server needs too).
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from collections import deque
from typing import NamedTuple
from urllib.parse import urlsplit

import orjson

STEP = 900  # seconds between a meter's readings (15 minutes)
PATH = "/api/v1/timeseries/batch"


class Batch(NamedTuple):
    """A request body and how many readings it carries."""

    body: bytes
    size: int


class BatchMaker:
    """Builds the batches of one client: ``slots`` × meters records, block by block."""

    def __init__(self, site_id, meter_ids, size, end_ts, keys=False):
        if size % len(meter_ids):
            raise SystemExit(f"the batch size ({size}) must be a multiple of the meters")
        self.site_id = site_id
        self.meter_ids = meter_ids
        self.slots = size // len(meter_ids)
        self.size = size
        self.end_ts = end_ts
        self.keys = keys
        self.heads = [f'{{"site_id":"{site_id}","meter_id":"{m}",' for m in meter_ids]

    def value(self, slot_number, meter_number):
        """The reading of a meter in a slot: any repeatable kWh figure."""
        return 5 + (slot_number * 31 + meter_number * 17) % 1000 / 100

    def make(self, block):
        """Return batch ``block`` (0 = the newest readings)."""
        parts = []
        for slot in range(self.slots):
            slot_number = block * self.slots + slot
            stamp = time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.end_ts - slot_number * STEP)
            )
            for meter_number, head in enumerate(self.heads):
                key = ""
                if self.keys:
                    key = f',"idempotency_key":"{self.site_id}-{meter_number}-{stamp}"'
                parts.append(
                    f'{head}"timestamp_utc":"{stamp}",'
                    f'"value":{self.value(slot_number, meter_number):.2f}{key}}}'
                )
        body = '{"source":"load-test","records":[' + ",".join(parts) + "]}"
        return Batch(body.encode(), self.size)


class Outcome(NamedTuple):
    """One batch as the client saw it."""

    client: int
    kind: str  # "new", "replay" (of an answered batch) or "twin" (of one in flight)
    started: float  # time.perf_counter() when the request started
    seconds: float
    status: int
    ingested: int
    skipped: int
    failed: int
    service_ms: float
    error: str | None


class Sender:
    """POSTs bodies on one kept-alive connection."""

    def __init__(self, base_url, token, timeout=120):
        parts = urlsplit(base_url)
        self.address = (parts.hostname, parts.port)
        self.timeout = timeout
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.connection = None

    def post(self, body):
        """Return ``(status, answer bytes)``; reconnects after a broken connection."""
        if self.connection is None:
            self.connection = http.client.HTTPConnection(*self.address, timeout=self.timeout)
        try:
            self.connection.request("POST", PATH, body=body, headers=self.headers)
            response = self.connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def close(self):
        """Close the connection (a new one opens with the next post)."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def judge(kind, size, status, content):
    """Return ``(ingested, skipped, failed, service_ms, error or None)`` of one answer."""
    if status != 200:
        return 0, 0, 0, 0.0, f"HTTP {status}: {content[:200]!r}"
    answer = orjson.loads(content)
    ingested, skipped = answer["ingested"], answer["skipped_duplicate"]
    failed = answer["failed"] + answer["updated"]
    error = None
    if failed:
        error = f"{failed} records failed or updated: {answer['errors'][:2]}"
    elif kind == "replay" and (ingested or skipped != size):
        error = f"replay stored {ingested} new readings, skipped {skipped} of {size}"
    elif ingested + skipped != size:
        error = f"{ingested} ingested + {skipped} skipped of {size}"
    return ingested, skipped, failed, answer.get("duration_ms", 0.0), error


class WriteLoad:
    """The writer threads and what they sent; see the module docstring."""

    def __init__(self, urls, tokens, makers, replay_every=10, rate=None, seed=12):
        self.urls = urls
        # With ``rate`` (records/s over all clients) each client sends at a fixed pace
        # instead of as fast as it can (a late batch goes at once; the backlog is dropped).
        self.interval = sum(m.size for m in makers) / rate if rate else 0.0
        self.tokens = tokens
        self.makers = makers
        self.replay_every = replay_every
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.answered = deque(maxlen=256)  # recent new batches already answered
        self.in_flight = {}  # client -> the new batch it is sending
        self.next_block = [0] * len(makers)
        self.originals = []  # (client, block) of every new batch answered 200
        self.outcomes: list[Outcome] = []
        self.warm_outcomes: list[Outcome] = []  # the untimed first batches
        self.stop = threading.Event()

    def warm_up(self):
        """Send each client's first batch (not timed; its readings count like the others)."""
        threads = [
            threading.Thread(target=self._client, args=(number, 1))
            for number in range(len(self.makers))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.warm_outcomes, self.outcomes = self.outcomes, []
        return self.warm_outcomes

    def start(self, deadline):
        """Start the clients; they stop at ``deadline`` (perf_counter) or on ``stop``."""
        self.deadline = deadline
        self.threads = [
            threading.Thread(target=self._client, args=(number,), daemon=True)
            for number in range(len(self.makers))
        ]
        for thread in self.threads:
            thread.start()

    def join(self):
        """Wait for the clients to finish their last batch."""
        for thread in self.threads:
            while thread.is_alive():
                thread.join(timeout=0.5)

    def _choose(self, client, count):
        """Return ``(kind, batch, block)`` of the client's next request."""
        maker = self.makers[client]
        if count % self.replay_every == self.replay_every - 1:
            with self.lock:
                others = [b for c, b in self.in_flight.items() if c != client]
                twin = (count // self.replay_every) % 2 == 0
                if twin and others:
                    return "twin", self.rng.choice(others), None
                if self.answered:
                    return "replay", self.rng.choice(self.answered), None
        block = self.next_block[client]
        self.next_block[client] += 1
        return "new", maker.make(block), block

    def _client(self, client, limit=None):
        sender = Sender(self.urls[client % len(self.urls)], self.tokens[client])
        count = 0
        paced = limit is None and self.interval > 0
        next_at = time.perf_counter() + self.interval * client / len(self.makers)
        try:
            while not self.stop.is_set() and (limit is None or count < limit):
                if paced:
                    if self.stop.wait(max(0.0, next_at - time.perf_counter())):
                        break
                    next_at = max(next_at + self.interval, time.perf_counter())
                if limit is None and time.perf_counter() >= self.deadline:
                    break
                kind, batch, block = self._choose(client, count)
                if kind == "new":
                    with self.lock:
                        self.in_flight[client] = batch
                started = time.perf_counter()
                try:
                    status, content = sender.post(batch.body)
                except (OSError, http.client.HTTPException) as exc:
                    status, content = 0, repr(exc).encode()
                seconds = time.perf_counter() - started
                ingested, skipped, failed, service_ms, error = judge(
                    kind, batch.size, status, content
                )
                outcome = Outcome(
                    client,
                    kind,
                    started,
                    seconds,
                    status,
                    ingested,
                    skipped,
                    failed,
                    service_ms,
                    error,
                )
                with self.lock:
                    self.outcomes.append(outcome)
                    if kind == "new":
                        self.in_flight.pop(client, None)
                        if status == 200:
                            self.answered.append(batch)
                            self.originals.append((client, block))
                count += 1
        finally:
            sender.close()

    def distinct_readings(self):
        """The number of distinct readings the answered new batches carried."""
        return sum(self.makers[client].size for client, _ in self.originals)
