"""A Flask-Limiter ``Limiter`` whose settings belong to each app it is bound to.

Flask-Limiter keeps what ``init_app`` reads from an app's config (``RATELIMIT_ENABLED``,
the storage, the strategy, the key prefix, the in-memory fallback …) on the ``Limiter``
object itself. CEI's limiter is one object for the process (the views are decorated with
it at import), so every ``create_app`` overwrote the settings of the apps made before it:
an app made with ``RATELIMIT_ENABLED=False`` even became the default of the next one
(``init_app`` does ``config.setdefault("RATELIMIT_ENABLED", self.enabled)``), and a test
app turned the limits of the apps after it off.

:class:`AppScopedLimiter` keeps those settings per app instead: ``init_app`` works on a
fresh copy of the constructor's settings and stores the result in the app's
``extensions``; while a request (or an app context) of that app runs, the limiter reads
and writes that copy. The limits declared with its decorators (``limit``,
``shared_limit``) stay shared: they are the same for every app, each app's config gives
their values (callables reading ``current_app.config``).
"""

from __future__ import annotations

import copy
import threading

from flask import current_app, has_app_context
from flask_limiter import Limiter

EXTENSION_KEY = "cei.limiter_settings"

# What Limiter.__init__ sets and init_app derives from the app's config, plus what the
# request path changes (storage found dead, when to look at it again). Everything else
# (the declared limits, the key function, request filters, exemptions) is shared.
APP_SETTINGS = (
    "enabled",
    "initialized",
    "_default_limits_per_method",
    "_default_limits_exempt_when",
    "_default_limits_deduct_when",
    "_default_limits_cost",
    "_application_limits_per_method",
    "_application_limits_exempt_when",
    "_application_limits_deduct_when",
    "_application_limits_cost",
    "_in_memory_fallback",
    "_in_memory_fallback_enabled",
    "_headers_enabled",
    "_header_mapping",
    "_retry_after",
    "_strategy",
    "_storage_uri",
    "_storage_options",
    "_swallow_errors",
    "_fail_on_first_breach",
    "_on_breach",
    "_on_meta_breach",
    "_meta_limits",
    "_key_prefix",
    "_request_identifier",
    "_storage",
    "_limiter",
    "_storage_dead",
    "_fallback_storage",
    "_fallback_limiter",
    "_Limiter__check_backend_count",
    "_Limiter__last_check_backend",
)


def _app_setting(name):
    def read(limiter):
        try:
            return limiter._settings()[name]
        except KeyError:
            raise AttributeError(name) from None

    def write(limiter, value):
        limiter._settings()[name] = value

    return property(read, write, doc=f"``{name}`` of the current app's settings.")


class AppScopedLimiter(Limiter):
    """A ``Limiter`` bound to several apps, each with its own settings (see the module)."""

    def __init__(self, *args, **kwargs):
        self._constructor_settings = {}
        self._binding = threading.local()  # the settings init_app is filling, per thread
        super().__init__(*args, **kwargs)

    def _settings(self):
        """The settings in force: those being built, the current app's, else the constructor's."""
        building = getattr(self._binding, "settings", None)
        if building is not None:
            return building
        if has_app_context():
            settings = current_app.extensions.get(EXTENSION_KEY)
            if settings is not None:
                return settings
        return self._constructor_settings

    def init_app(self, app):
        """Bind to ``app`` with settings of its own, read from its config."""
        settings = {
            name: copy.copy(value) for name, value in self._constructor_settings.items()
        }
        self._binding.settings = settings
        try:
            super().init_app(app)
        finally:
            self._binding.settings = None
        app.extensions[EXTENSION_KEY] = settings


for _name in APP_SETTINGS:
    setattr(AppScopedLimiter, _name, _app_setting(_name))
del _name
