"""Whether the services CEI depends on answer: the database, and Redis when configured."""

from sqlalchemy import text

from cei.extensions import db


def check_database():
    """Return "ok" or the reason the database cannot be reached."""
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        db.session.rollback()
        return f"error: {type(exc).__name__}"


def check_redis(url):
    """Return "ok", "not configured" (no ``url``), or the reason Redis cannot be reached."""
    if not url:
        return "not configured"
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        return "ok"
    except redis.RedisError as exc:
        return f"error: {type(exc).__name__}"
