"""Extensions, created unbound and bound to the app in ``create_app``."""

from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData

from cei.api import CeiApi
from cei.limiter import AppScopedLimiter

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate()
api = CeiApi()
login_manager = LoginManager()
csrf = CSRFProtect()
# Limits live in Redis when configured (shared by every web process), else in memory;
# if Redis is down, requests are limited in memory rather than refused. One object for the
# views' decorators, with the settings of each app it is bound to (cei.limiter).
limiter = AppScopedLimiter(key_func=get_remote_address, headers_enabled=True)
