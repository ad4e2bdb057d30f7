"""Plan flags that switch API areas on and off (``enable_alerts``, ``enable_reports``)."""

import functools

from cei.api import api_abort
from cei.security import current_organization

FEATURES = {"enable_alerts": "Alerts", "enable_reports": "Reports"}


def require_feature(flag):
    """Answer 403 ``PLAN_FEATURE_DISABLED`` unless the caller's organization has ``flag`` on.

    Put it under ``@authenticated(...)``: it needs the caller's organization.
    """

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not getattr(current_organization(), flag):
                api_abort(
                    403,
                    "PLAN_FEATURE_DISABLED",
                    f"{FEATURES[flag]} are not part of this organization's plan",
                    detail={"feature": flag},
                )
            return view(*args, **kwargs)

        return wrapper

    return decorator
