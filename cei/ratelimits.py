"""Rate limits: how often one address, account, organization or token may try something.

Every limit is a config value (``*_RATE_LIMIT``, Flask-Limiter syntax). Counters live in
Redis when ``REDIS_URL`` is set, shared by every web process; when Redis is down,
Flask-Limiter counts per process instead (never "no limit", never a 500). A refused
request answers 429 with ``Retry-After`` (header, and ``detail.retry_after`` in the API's
error envelope).
"""

import hashlib
import logging
import math
import time

from flask import current_app, g, request
from flask_limiter import RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from cei.api import api_abort, error_envelope, is_api_request
from cei.extensions import limiter

log = logging.getLogger("cei.ratelimits")


def _configured(name):
    return lambda: current_app.config[name]


def client_address():
    """The caller's address (the proxy in front must set ``REMOTE_ADDR`` correctly)."""
    return get_remote_address() or "unknown"


def _digest(value):
    # Counters are keyed by a digest: no e-mail address or token is written to Redis.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def submitted_account():
    """The account a login or sign-up names (JSON ``email``, form ``email``/``username``)."""
    if request.is_json:
        body = g.get("json_body")
        source = body if isinstance(body, dict) else {}
    else:
        source = request.form
    value = source.get("email") or source.get("username") or ""
    value = value.strip().lower() if isinstance(value, str) else ""
    return "account:" + _digest(value)


def _caller_organization():
    principal = g.get("principal")
    if principal is None:
        return "address:" + client_address()
    return f"organization:{principal.organization_id}"


def _presented_credential():
    header = request.headers.get("Authorization", "")
    if header:
        return "credential:" + _digest(header)
    return "address:" + client_address()


def _failed_login(response):
    return response.status_code == 401


# Login and sign-up: per address and per account, shared by the API and the web pages.
login_per_address = limiter.shared_limit(
    _configured("LOGIN_RATE_LIMIT"), scope="login", methods=["POST"]
)
# Only failures count against an account, so its owner is not locked out by their own logins.
login_per_account = limiter.shared_limit(
    _configured("LOGIN_ACCOUNT_RATE_LIMIT"),
    scope="login-account",
    key_func=submitted_account,
    methods=["POST"],
    deduct_when=_failed_login,
)
signup_per_address = limiter.shared_limit(
    _configured("SIGNUP_RATE_LIMIT"), scope="signup", methods=["POST"]
)
signup_per_account = limiter.shared_limit(
    _configured("SIGNUP_ACCOUNT_RATE_LIMIT"),
    scope="signup-account",
    key_func=submitted_account,
    methods=["POST"],
)
# Below ``authenticated``: the caller's organization is known.
token_creation = limiter.limit(
    _configured("TOKEN_CREATE_RATE_LIMIT"), key_func=_caller_organization
)


def limit_login(view):
    """Apply the login limits (per address, per account) to ``view``."""
    return login_per_address(login_per_account(view))


def limit_signup(view):
    """Apply the sign-up limits (per address, per account) to ``view``."""
    return signup_per_address(signup_per_account(view))


_LIMITED_BLUEPRINTS = set()


def limit_ingestion(blueprint):
    """Limit the POSTs of ``blueprint`` per presented token (once per blueprint)."""
    if blueprint.name in _LIMITED_BLUEPRINTS:
        return
    _LIMITED_BLUEPRINTS.add(blueprint.name)
    limiter.limit(
        _configured("INGEST_RATE_LIMIT"), key_func=_presented_credential, methods=["POST"]
    )(blueprint)


# Wrong bearer tokens per address, counted by hand: only failures count, and the check
# comes before the token is even looked at. Counted per process (per app) when the
# storage fails.
FALLBACK_EXTENSION_KEY = "cei.bad_token_fallback"


def _bad_token_counters():
    key = (current_app.config["RATELIMIT_KEY_PREFIX"], "bad-token", client_address())
    items = parse_many(current_app.config["BAD_TOKEN_RATE_LIMIT"])
    return items, key


def _with_strategy(action):
    """Run ``action(strategy)`` on the shared storage, or per process when it fails."""
    try:
        return action(limiter.limiter)
    except Exception as exc:  # noqa: BLE001  (any storage failure: count per process)
        log.warning("rate limit storage unavailable (%s); counting per process", type(exc).__name__)
        return action(current_app.extensions[FALLBACK_EXTENSION_KEY])


def refuse_after_bad_tokens():
    """Answer 429 when this address sent too many wrong bearer tokens lately."""
    if not limiter.enabled:
        return
    items, key = _bad_token_counters()

    def exhausted(strategy):
        for item in items:
            if not strategy.test(item, *key):
                return strategy.get_window_stats(item, *key).reset_time
        return None

    reset_at = _with_strategy(exhausted)
    if reset_at is not None:
        longest = max(item.get_expiry() for item in items)
        retry_after = max(1, min(math.ceil(reset_at - time.time()), longest))
        api_abort(
            429,
            "TOO_MANY_BAD_TOKENS",
            f"Too many wrong tokens from this address; retry after {retry_after} s",
            detail={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


def count_bad_token():
    """Count one wrong bearer token against the caller's address."""
    if not limiter.enabled:
        return
    items, key = _bad_token_counters()

    def hit(strategy):
        for item in items:
            strategy.hit(item, *key)

    _with_strategy(hit)


def _retry_after(error):
    current = limiter.current_limit
    try:
        if current is not None and current.breached:
            remaining = math.ceil(current.reset_at - time.time())
            return max(1, min(remaining, current.limit.get_expiry()))
    except Exception:  # noqa: BLE001  (storage gone mid-request: the window is the bound)
        log.warning("rate limit storage unavailable while answering 429")
    return error.limit.limit.get_expiry()


def rate_limited(error):
    """Answer a breached limit: 429 with ``Retry-After`` (and the envelope on the API)."""
    retry_after = _retry_after(error)
    error.data = {
        "code": "RATE_LIMITED",
        "message": f"Too many requests; retry after {retry_after} s",
        "detail": {"limit": str(error.limit.limit), "retry_after": retry_after},
        "headers": {"Retry-After": str(retry_after)},
    }
    if is_api_request():
        return error_envelope(error)
    response = error.get_response()
    response.headers["Retry-After"] = str(retry_after)
    return response


def register(app):
    """Answer every breached limit with :func:`rate_limited`; give ``app`` its fallback counter.

    The limiter's settings (enabled, storage, fallback) are the app's own
    (:class:`cei.limiter.AppScopedLimiter`): a new app neither inherits nor changes those
    of the apps made before it.
    """
    app.register_error_handler(RateLimitExceeded, rate_limited)
    app.extensions[FALLBACK_EXTENSION_KEY] = FixedWindowRateLimiter(MemoryStorage())
