"""cei.limiter keeps per app every setting Flask-Limiter's ``init_app`` and request path keep
on the ``Limiter`` object: checked against the installed Flask-Limiter, so an upgrade that
adds one fails here instead of sharing it between apps again."""

import copy

from flask import Flask
from flask_limiter import Limiter

from cei.limiter import APP_SETTINGS, EXTENSION_KEY, AppScopedLimiter


def bound_app(**config):
    app = Flask("limiter-test")
    app.config.update(RATELIMIT_STORAGE_URI="memory://", **config)
    return app


def test_the_per_app_settings_are_all_that_init_app_sets():
    plain = Limiter(key_func=lambda: "caller", headers_enabled=True)
    before = dict(vars(plain))
    contents = {name: copy.copy(value) for name, value in before.items()}
    plain.init_app(bound_app(RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True, RATELIMIT_KEY_PREFIX="x"))
    changed = {
        name
        for name, value in vars(plain).items()
        if name not in before
        or before[name] is not value
        or (isinstance(value, (dict, list, set)) and contents[name] != value)
    }
    assert {"_storage", "_limiter", "_key_prefix", "_fallback_limiter"} <= changed
    shared = {"limit_manager", "_marked_for_limiting", "_key_func", "_request_filters"}
    assert not changed & shared
    assert changed <= set(APP_SETTINGS), sorted(changed - set(APP_SETTINGS))
    # Every name kept per app is one the Limiter really has (no misspelt, dead entry).
    assert set(APP_SETTINGS) <= set(vars(plain))


def test_two_apps_keep_their_own_settings():
    limiter = AppScopedLimiter(key_func=lambda: "caller")
    first = bound_app(RATELIMIT_ENABLED=False)
    second = bound_app(RATELIMIT_KEY_PREFIX="second")
    limiter.init_app(first)
    limiter.init_app(second)
    assert second.config["RATELIMIT_ENABLED"] is True
    assert first.extensions[EXTENSION_KEY] is not second.extensions[EXTENSION_KEY]
    with first.app_context():
        assert limiter.enabled is False and limiter.initialized is False
    with second.app_context():
        assert limiter.enabled is True and limiter.initialized is True
        assert limiter._key_prefix == "second"
        limiter._storage_dead = True
    with second.app_context():
        assert limiter._storage_dead is True
    # Outside any app: the constructor's settings, untouched by either app.
    assert limiter.enabled is True and limiter.initialized is False
    assert limiter._storage_dead is False
