"""The limits of ingestion, in one place."""

MAX_BATCH_RECORDS = 50_000
MAX_ERRORS = 1000  # errors listed per answer; the rest are counted
MAX_KEY_LENGTH = 200
MAX_SOURCE_LENGTH = 200
MAX_KWH = 1e9  # a billion kWh in one interval is a unit mistake, not a meter reading
MAX_FUTURE_SECONDS = 300
RETENTION_DAYS = 3653
MAX_INTERVAL_MINUTES = 1440
DEFAULT_INTERVAL_MINUTES = 60
ON_CONFLICT = ("reject", "update")
