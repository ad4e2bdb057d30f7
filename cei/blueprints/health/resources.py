"""Health checks: ``/api/v1/health``."""

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from cei.services.health import check_database, check_redis

blp = Blueprint("health", __name__, url_prefix="/api/v1/health", description="Health checks")


class HealthSchema(ma.Schema):
    """Process and dependency status."""

    status = ma.fields.String(metadata={"example": "ok"})
    checks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())


@blp.route("")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self):
        """Tell that the process is up"""
        return {"status": "ok", "checks": {}}


@blp.route("/ready")
class Ready(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="A dependency is down")
    def get(self):
        """Tell whether the database (and Redis, when configured) are reachable"""
        checks = {
            "database": check_database(),
            "redis": check_redis(current_app.config.get("REDIS_URL")),
        }
        healthy = all(value in ("ok", "not configured") for value in checks.values())
        body = {"status": "ok" if healthy else "unavailable", "checks": checks}
        if not healthy:
            return body, 503, {"Retry-After": "5"}
        return body
