"""Schemas of the accounts and integration-token endpoints."""

import marshmallow as ma
from marshmallow import validate

from cei.models.integration_token import SCOPES
from cei.services.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

password_field = ma.fields.String(
    required=True,
    load_only=True,
    validate=validate.Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH),
    metadata={"description": f"{MIN_PASSWORD_LENGTH}–{MAX_PASSWORD_LENGTH} characters"},
)


class SignupRequestSchema(ma.Schema):
    """Sign-up: a new organization and its first admin."""

    email = ma.fields.Email(required=True, validate=validate.Length(max=254))
    password = password_field
    full_name = ma.fields.String(validate=validate.Length(max=200), allow_none=True)
    organization_name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))


class LoginRequestSchema(ma.Schema):
    """Login by JSON ``{email, password}`` or form fields ``username``/``password``."""

    email = ma.fields.String(validate=validate.Length(min=1, max=254))
    username = ma.fields.String(validate=validate.Length(min=1, max=254))
    password = ma.fields.String(
        required=True, load_only=True, validate=validate.Length(max=MAX_PASSWORD_LENGTH * 4)
    )

    @ma.validates_schema
    def needs_an_identity(self, data, **kwargs):
        """Require one of email / username."""
        if not (data.get("email") or data.get("username")):
            raise ma.ValidationError("email (or username) is required", "email")


class PasswordChangeSchema(ma.Schema):
    """Change the signed-in user's password."""

    current_password = ma.fields.String(required=True, load_only=True)
    new_password = password_field


class TokenResponseSchema(ma.Schema):
    """A user access token."""

    access_token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True, metadata={"example": "bearer"})
    expires_in = ma.fields.Integer(required=True, metadata={"description": "Seconds"})


class PlanFlagsMixin:
    subscription_plan_key = ma.fields.String()
    enable_alerts = ma.fields.Boolean()
    enable_reports = ma.fields.Boolean()
    subscription_status = ma.fields.String()


class OrganizationSchema(PlanFlagsMixin, ma.Schema):
    """An organization with its plan flags and defaults."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    currency = ma.fields.String()
    tariff_per_kwh = ma.fields.Float(metadata={"description": "Default tariff, currency/kWh"})
    timezone = ma.fields.String()
    auto_create_sites = ma.fields.Boolean()
    created_at = ma.fields.DateTime()


class UserSchema(ma.Schema):
    """A user."""

    id = ma.fields.Integer()
    email = ma.fields.String()
    full_name = ma.fields.String(allow_none=True)
    role = ma.fields.String()
    organization_id = ma.fields.Integer()
    created_at = ma.fields.DateTime()


class SignupResponseSchema(TokenResponseSchema):
    """What sign-up returns."""

    user = ma.fields.Nested(UserSchema)
    organization = ma.fields.Nested(OrganizationSchema)


class MeSchema(PlanFlagsMixin, UserSchema):
    """The signed-in user, their organization, and the plan flags mirrored at top level."""

    organization = ma.fields.Nested(OrganizationSchema)


class TokenCreateSchema(ma.Schema):
    """A new integration token."""

    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    scopes = ma.fields.List(
        ma.fields.String(validate=validate.OneOf(SCOPES)),
        validate=validate.Length(min=1),
        load_default=None,
        metadata={"description": "Default: all of " + ", ".join(SCOPES)},
    )


class IntegrationTokenSchema(ma.Schema):
    """An integration token as listed (never with its secret)."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    prefix = ma.fields.String(metadata={"description": "First characters, for recognising it"})
    scopes = ma.fields.Function(lambda token: token.scope_list, metadata={"type": "array"})
    is_active = ma.fields.Boolean()
    created_at = ma.fields.DateTime()
    last_used_at = ma.fields.DateTime(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)


class IntegrationTokenCreatedSchema(IntegrationTokenSchema):
    """A token just created: the only time its secret is shown."""

    token = ma.fields.String(metadata={"description": "The raw token; store it now"})


class WhoAmISchema(ma.Schema):
    """Who the credentials belong to."""

    kind = ma.fields.String(metadata={"description": "user or integration_token"})
    organization_id = ma.fields.Integer()
    organization_name = ma.fields.String()
    scopes = ma.fields.List(ma.fields.String())
    user_id = ma.fields.Integer(allow_none=True)
    token_id = ma.fields.Integer(allow_none=True)
    token_name = ma.fields.String(allow_none=True)
