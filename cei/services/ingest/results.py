"""What an ingestion answers: counts and the first errors by record index."""

import heapq
from dataclasses import dataclass, field

from cei.services.ingest.limits import MAX_ERRORS


@dataclass
class BatchResult:
    """What happened to the records of one batch or upload."""

    ingested: int = 0
    updated: int = 0
    skipped_duplicate: int = 0
    failed: int = 0
    errors: list = field(default_factory=list)
    errors_truncated: bool = False
    rows: int | None = None
    duration_ms: float = 0.0

    def as_dict(self):
        """Return the result as the API answers it."""
        body = {
            "ingested": self.ingested,
            "updated": self.updated,
            "skipped_duplicate": self.skipped_duplicate,
            "failed": self.failed,
            "errors": self.errors,
            "errors_truncated": self.errors_truncated,
            "duration_ms": self.duration_ms,
        }
        if self.rows is not None:
            body["rows"] = self.rows
        return body


class ErrorLog:
    """The first ``limit`` errors by record index, whatever order they are found in."""

    def __init__(self, limit=MAX_ERRORS):
        self.limit = limit
        self.heap = []  # (-index, -sequence, entry): the root is the highest index kept
        self.sequence = 0
        self.truncated = False

    def add(self, entry):
        """Keep ``entry`` if it is among the first ``limit`` by index."""
        self.sequence += 1
        item = (-entry["index"], -self.sequence, entry)
        if len(self.heap) < self.limit:
            heapq.heappush(self.heap, item)
            return
        self.truncated = True
        if item > self.heap[0]:
            heapq.heapreplace(self.heap, item)

    def sorted(self):
        """Return the kept entries ordered by index."""
        return [entry for _, _, entry in sorted(self.heap, reverse=True)]
