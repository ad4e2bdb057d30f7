"""Configuration: defaults, then ``CEI_*`` environment variables, then the mapping given to
``create_app``."""

import json
import os
import secrets
from datetime import timedelta

DEV_SECRET_KEY = "cei-dev-secret-key-change-me"

# Environment variable (without the CEI_ prefix) -> Flask config key.
ENV_KEYS = {
    "DATABASE_URL": "DATABASE_URL",
    "REDIS_URL": "REDIS_URL",
    "SECRET_KEY": "SECRET_KEY",
    "ENV": "CEI_ENV",
    "ACCESS_TOKEN_TTL": "ACCESS_TOKEN_TTL",
    "MAX_CONTENT_LENGTH": "MAX_CONTENT_LENGTH",
    "LOG_LEVEL": "LOG_LEVEL",
    "LOG_FORMAT": "LOG_FORMAT",
    "ACCESS_LOG": "ACCESS_LOG",
    "METRICS_TOKEN": "METRICS_TOKEN",
    "JOBS_INLINE": "JOBS_INLINE",
    "ANALYTICS_ENABLED": "ANALYTICS_ENABLED",
    "ANALYTICS_PARAMS": "ANALYTICS_PARAMS",
    "ANALYTICS_BACKGROUND": "ANALYTICS_BACKGROUND",
    "INGEST_SHORTCUTS": "INGEST_SHORTCUTS",
    "SESSION_IDLE_TIMEOUT": "SESSION_IDLE_TIMEOUT",
    "SESSION_ABSOLUTE_TIMEOUT": "SESSION_ABSOLUTE_TIMEOUT",
    "TRUSTED_PROXIES": "TRUSTED_PROXIES",
}

INT_KEYS = {
    "ACCESS_TOKEN_TTL",
    "MAX_CONTENT_LENGTH",
    "SESSION_IDLE_TIMEOUT",
    "SESSION_ABSOLUTE_TIMEOUT",
    "TRUSTED_PROXIES",
}
BOOL_KEYS = {"JOBS_INLINE", "INGEST_SHORTCUTS", "ANALYTICS_BACKGROUND", "ACCESS_LOG"}
JSON_KEYS = {"ANALYTICS_PARAMS"}


class DefaultConfig:
    """Settings used unless the environment or the caller overrides them."""

    CEI_ENV = "development"
    SECRET_KEY = DEV_SECRET_KEY
    DATABASE_URL = None  # None = SQLite file under instance/
    REDIS_URL = None  # None = jobs run in-process
    ACCESS_TOKEN_TTL = 3600
    # 20 MiB batches plus headroom for multipart CSV uploads, which stream in chunks.
    MAX_CONTENT_LENGTH = 256 * 1024 * 1024
    MAX_JSON_BODY = 20 * 1024 * 1024
    LOG_LEVEL = "INFO"
    # "json" (one JSON object per line) or "text"; None: json when CEI_ENV=production.
    LOG_FORMAT = None
    ACCESS_LOG = True  # one log line per request (logger ``cei.access``)
    # Bearer token that /metrics requires. Unset: /metrics answers only loopback callers
    # that came through no proxy, and nobody in production.
    METRICS_TOKEN = None
    JOBS_INLINE = False  # True: manual analysis runs execute inside the request
    # Analytics jobs (cei/tasks). Without REDIS_URL a dispatcher thread and a thread pool
    # start with the first request (ANALYTICS_BACKGROUND; the tests turn it off).
    ANALYTICS_BACKGROUND = True
    ANALYTICS_THREADS = 1
    ANALYTICS_POLL_SECONDS = 2.0  # how often the dispatcher looks for due sites
    ANALYTICS_RERUN_MINUTES = 60  # every site is analysed at least this often
    ANALYTICS_REQUEUE_SECONDS = 600  # a run handed over this long ago is handed over again
    ANALYTICS_JOB_TIMEOUT = 600  # seconds; a run still running after twice this is failed
    # A `cei worker` renews its running job's entry in Redis this often (seconds); a worker
    # silent for three beats has died, and its job is failed and retried (cei/tasks/worker.py).
    WORKER_HEARTBEAT_SECONDS = 10.0
    ANALYTICS_RUN_RETENTION_DAYS = 30
    ANALYTICS_HISTORY_DAYS = 65  # days read per analysis: 8 fitted weeks, the held-out week, today
    # Analytics plugins (entry points ``cei.analytics``): "all" or a comma-separated list of
    # names, and parameters per plugin name overriding its defaults, e.g.
    # {"deviation": {"warning_pct": 15}} (CEI_ANALYTICS_PARAMS takes the same as JSON).
    ANALYTICS_ENABLED = "all"
    ANALYTICS_PARAMS = {}
    # Ingestion's paths that exist only for speed (fast path, simple plans); off = the
    # general path for everything, with the same answers (CI runs tests/ingest both ways).
    INGEST_SHORTCUTS = True
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # A signed-in web session ends after this long without a request, and this long after
    # login whatever happens (seconds); "remember me" keeps it across browser restarts.
    SESSION_IDLE_TIMEOUT = 8 * 3600
    SESSION_ABSOLUTE_TIMEOUT = 7 * 24 * 3600
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are believed
    # (0: none). Rate limits per address and the same-origin check depend on it.
    TRUSTED_PROXIES = 0
    # zxcvbn's 0-4 scale: 2 refuses common, breached-list and keyboard-pattern passwords.
    PASSWORD_MIN_SCORE = 2
    # Rate limits (Flask-Limiter syntax); "per account" counts per e-mail address.
    LOGIN_RATE_LIMIT = "20 per minute"
    LOGIN_ACCOUNT_RATE_LIMIT = "10 per minute;50 per hour"
    SIGNUP_RATE_LIMIT = "10 per minute"
    SIGNUP_ACCOUNT_RATE_LIMIT = "5 per hour"
    TOKEN_CREATE_RATE_LIMIT = "30 per hour"
    INGEST_RATE_LIMIT = "6000 per minute"
    BAD_TOKEN_RATE_LIMIT = "30 per minute"
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_KEY_PREFIX = "cei-limits"
    # Flask-Limiter would raise any Retry-After to the reset of the request's limit window
    # (a database outage's "retry in 5 s" became 60 s on ingestion) and send one on every
    # limited 200; its figure goes to a header of its own, Retry-After stays the answer's.
    RATELIMIT_HEADER_RETRY_AFTER = "X-RateLimit-Retry-After"
    # Seconds a client is asked to wait (503 + Retry-After) while the database is unavailable.
    DATABASE_RETRY_AFTER = 5
    # PostgreSQL: seconds to wait for a new connection (a URL's own connect_timeout wins).
    DATABASE_CONNECT_TIMEOUT = 5
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    ARGON2_PARALLELISM = 4

    API_TITLE = "CEI — Carbon & Energy Intelligence API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    OPENAPI_SWAGGER_UI_URL = "/static/swagger-ui/"
    API_SPEC_OPTIONS = {
        "info": {
            "description": (
                "Factories push meter readings with org-scoped integration tokens; "
                "integrators read them back. Errors use one JSON envelope "
                "`{code, message, detail?, request_id}`."
            )
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A user access token (from login/sign-up) or an "
                    "integration token (`cei_int_…`).",
                },
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session"},
            }
        },
    }


def _coerce(key, raw):
    if key in INT_KEYS:
        return int(raw)
    if key in BOOL_KEYS:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if key in JSON_KEYS:
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise RuntimeError(f"CEI_{key} must be JSON: {exc}") from exc
    return raw


def env_overrides(environ=None):
    """Return the config values set through ``CEI_*`` environment variables."""
    environ = os.environ if environ is None else environ
    values = {}
    for env_name, key in ENV_KEYS.items():
        raw = environ.get(f"CEI_{env_name}")
        if raw not in (None, ""):
            values[key] = _coerce(key, raw)
    return values


def check_secret_key(config):
    """Refuse a weak secret key in production; invent a random one for throwaway runs."""
    key = config.get("SECRET_KEY")
    if config.get("CEI_ENV") == "production":
        if not _strong_secret(key):
            raise RuntimeError(
                "CEI_SECRET_KEY must be set to a random string of at least 32 characters "
                "when CEI_ENV=production (e.g. python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))')"
            )
    elif not key:
        config["SECRET_KEY"] = secrets.token_urlsafe(32)


def _strong_secret(key):
    """At least 32 characters, not the development key, not a run of a few repeated ones."""
    return (
        isinstance(key, str)
        and len(key) >= 32
        and key != DEV_SECRET_KEY
        and len(set(key)) >= MIN_SECRET_DISTINCT_CHARACTERS
    )


MIN_SECRET_DISTINCT_CHARACTERS = 12


def apply_security_settings(config):
    """Derive the cookie, session and rate-limit storage settings from the others.

    Production cookies are ``Secure`` (and HSTS is sent, see :mod:`cei.headers`); a
    "remember me" session lasts at most the absolute session timeout. Rate limits live in
    Redis when it is configured, with short timeouts so a dead Redis costs little before
    Flask-Limiter falls back to per-process limits.
    """
    if config.get("CEI_ENV") == "production":
        config["SESSION_COOKIE_SECURE"] = True
        config["REMEMBER_COOKIE_SECURE"] = True
    lifetime = timedelta(seconds=config["SESSION_ABSOLUTE_TIMEOUT"])
    config["PERMANENT_SESSION_LIFETIME"] = lifetime
    config["REMEMBER_COOKIE_DURATION"] = lifetime
    storage = config.setdefault("RATELIMIT_STORAGE_URI", config.get("REDIS_URL") or "memory://")
    if storage.startswith(("redis://", "rediss://")):
        config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 1, "socket_timeout": 1}
        )


LOG_FORMATS = ("json", "text")
MIN_METRICS_TOKEN_LENGTH = 32


def resolve_observability_settings(config):
    """Settle ``LOG_FORMAT`` (json in production, text elsewhere) and check the metrics token."""
    log_format = config.get("LOG_FORMAT") or (
        "json" if config.get("CEI_ENV") == "production" else "text"
    )
    log_format = str(log_format).strip().lower()
    if log_format not in LOG_FORMATS:
        raise RuntimeError(f"CEI_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
    config["LOG_FORMAT"] = log_format
    token = config.get("METRICS_TOKEN") or None
    if token is not None and len(token) < MIN_METRICS_TOKEN_LENGTH:
        raise RuntimeError(
            f"CEI_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_LENGTH} characters "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    config["METRICS_TOKEN"] = token


def settings_from_environment(environ=None):
    """The defaults overridden by ``CEI_*`` variables, settled: for processes without an app
    (the gunicorn master's logging)."""
    config = {
        key: getattr(DefaultConfig, key) for key in dir(DefaultConfig) if key.isupper()
    }
    config.update(env_overrides(environ))
    resolve_observability_settings(config)
    return config


def sqlite_url(instance_path):
    """Return the URL of the embedded SQLite database file."""
    return "sqlite:///" + os.path.join(instance_path, "cei.sqlite3")


def normalise_database_url(url):
    """Use psycopg 3 for ``postgresql://`` / ``postgres://`` URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
