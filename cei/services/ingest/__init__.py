"""Ingestion: store meter readings sent as JSON batches or CSV files.

Where each rule lives:

- ``entries`` — one entry per input: :func:`ingest_json` (a batch body), :func:`ingest_batch`
  (decoded records), :func:`ingest_csv` (an uploaded file);
- ``pipeline`` — the steps every chunk of records goes through, in one transaction;
- ``checks`` — the per-record checks; ``columns`` — the fast path for well-formed batches;
- ``units``, ``codes``, ``limits``, ``timestamps`` — the unit table, the error codes with
  their meaning, the limits, the one timestamp parser; site and meter ids follow
  :mod:`cei.services.identifiers`;
- ``catalog`` — sites and meters found or created in bulk;
- ``store``, ``store_sqlite``, ``store_postgres`` — bulk reads and writes per database;
- ``csv_files`` — reading uploaded CSV files in chunks; ``results`` — the answer.
"""

from cei.services.ingest.entries import ingest_batch, ingest_csv, ingest_json
from cei.services.ingest.limits import MAX_BATCH_RECORDS, MAX_ERRORS
from cei.services.ingest.results import BatchResult

__all__ = [
    "MAX_BATCH_RECORDS",
    "MAX_ERRORS",
    "BatchResult",
    "ingest_batch",
    "ingest_csv",
    "ingest_json",
]
