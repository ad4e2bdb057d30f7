"""The production configuration refuses weak secrets; security settings from the environment."""

import pytest

from cei import config as cei_config
from tests.security.conftest import STRONG_SECRET


@pytest.mark.parametrize(
    "key",
    [None, "", "short", cei_config.DEV_SECRET_KEY, "k" * 40, "abababababababababababababababab"],
)
def test_production_refuses_weak_secret_keys(make_app, key):
    with pytest.raises(RuntimeError, match="CEI_SECRET_KEY"):
        make_app(CEI_ENV="production", SECRET_KEY=key)


def test_production_accepts_a_random_key(make_app):
    app = make_app(CEI_ENV="production", SECRET_KEY=STRONG_SECRET)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_timeouts_come_from_the_environment():
    values = cei_config.env_overrides(
        {"CEI_SESSION_IDLE_TIMEOUT": "1800", "CEI_SESSION_ABSOLUTE_TIMEOUT": "86400"}
    )
    assert values == {"SESSION_IDLE_TIMEOUT": 1800, "SESSION_ABSOLUTE_TIMEOUT": 86400}


def test_rate_limit_storage_follows_redis():
    config = {"REDIS_URL": "redis://127.0.0.1:6379/3", "SESSION_ABSOLUTE_TIMEOUT": 60}
    cei_config.apply_security_settings(config)
    assert config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"
    assert config["RATELIMIT_STORAGE_OPTIONS"]["socket_timeout"] <= 2
    config = {"REDIS_URL": None, "SESSION_ABSOLUTE_TIMEOUT": 60}
    cei_config.apply_security_settings(config)
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert "RATELIMIT_STORAGE_OPTIONS" not in config
