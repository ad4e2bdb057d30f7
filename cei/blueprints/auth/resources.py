"""Accounts and integration tokens: ``/api/v1/auth``."""

import marshmallow as ma
from flask import g, request
from flask.views import MethodView
from flask_login import logout_user
from sqlalchemy.exc import IntegrityError

from cei.api import Blueprint, api_abort
from cei.blueprints.auth.schemas import (
    IntegrationTokenCreatedSchema,
    IntegrationTokenSchema,
    LoginRequestSchema,
    MeSchema,
    PasswordChangeSchema,
    SignupRequestSchema,
    SignupResponseSchema,
    TokenCreateSchema,
    TokenResponseSchema,
    WhoAmISchema,
)
from cei.blueprints.errors import service_errors
from cei.extensions import db
from cei.logs import bind_organization
from cei.ratelimits import limit_login, limit_signup, token_creation
from cei.security import authenticated, current_organization, current_principal
from cei.services import accounts, tokens

blp = Blueprint(
    "auth", __name__, url_prefix="/api/v1/auth", description="Accounts and integration tokens"
)


def token_response(user):
    # The request's log lines name the organization that signed up or in.
    bind_organization(user.organization_id)
    token, expires_in = accounts.issue_access_token(user)
    return {"access_token": token, "token_type": "bearer", "expires_in": expires_in}


@blp.route("/signup")
class Signup(MethodView):
    decorators = [limit_signup]

    @blp.arguments(SignupRequestSchema)
    @blp.response(201, SignupResponseSchema)
    def post(self, data):
        """Sign up: create an organization and its admin

        ---
        Always creates a new organization (never joins an existing one) on the
        `cei-starter` plan. Emails are case-insensitive; a second sign-up answers 409.
        """
        try:
            with service_errors():
                user = accounts.sign_up(
                    data["email"],
                    data["password"],
                    data["organization_name"],
                    data.get("full_name"),
                )
            db.session.commit()
        except IntegrityError:
            # Two sign-ups with one email at the same moment: the unique index decides.
            db.session.rollback()
            api_abort(409, "EMAIL_TAKEN", "An account with this email already exists")
        return {**token_response(user), "user": user, "organization": user.organization}


# The login body with the rule marshmallow checks in code: an email or a username.
LOGIN_REQUEST = {
    "allOf": [LoginRequestSchema],
    "anyOf": [{"required": ["email"]}, {"required": ["username"]}],
}


@blp.route("/login")
class Login(MethodView):
    decorators = [limit_login]

    @blp.doc(
        requestBody={
            "required": True,
            "content": {
                "application/json": {"schema": LOGIN_REQUEST},
                "application/x-www-form-urlencoded": {"schema": LOGIN_REQUEST},
            },
        }
    )
    @blp.response(200, TokenResponseSchema)
    def post(self):
        """Log in and get an access token

        ---
        Accepts JSON `{email, password}` or the form fields `username`/`password`.
        Wrong email and wrong password give the same 401.
        """
        source = g.get("json_body") if request.is_json else request.form.to_dict()
        if not isinstance(source, dict):
            api_abort(422, "VALIDATION_ERROR", "Send {email, password}")
        try:
            data = LoginRequestSchema().load(source, unknown=ma.EXCLUDE)
        except ma.ValidationError as exc:
            api_abort(422, "VALIDATION_ERROR", "Invalid login request", detail=exc.messages)
        with service_errors():
            user = accounts.authenticate(
                data.get("email") or data.get("username"), data["password"]
            )
        db.session.commit()
        return token_response(user)


@blp.route("/logout")
class Logout(MethodView):
    @blp.response(204)
    @authenticated(users_only=True)
    def post(self):
        """Log out everywhere: invalidate this user's access tokens and sessions"""
        accounts.end_all_sessions(current_principal().user)
        db.session.commit()
        logout_user()


@blp.route("/password")
class Password(MethodView):
    @blp.response(204)
    @authenticated(users_only=True)
    @blp.arguments(PasswordChangeSchema)
    def post(self, data):
        """Change the password (ends every other token and session)"""
        with service_errors():
            accounts.change_password(
                current_principal().user, data["current_password"], data["new_password"]
            )
        db.session.commit()
        logout_user()


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeSchema)
    @authenticated(users_only=True)
    def get(self):
        """Show the signed-in user, their organization and plan flags"""
        user = current_principal().user
        organization = user.organization
        return {
            "id": user.id,
            "email": user.email,
            "full_name": user.full_name,
            "role": user.role,
            "organization_id": organization.id,
            "created_at": user.created_at,
            "organization": organization,
            **organization.plan_flags(),
        }


@blp.route("/whoami")
class WhoAmI(MethodView):
    @blp.response(200, WhoAmISchema)
    @authenticated()
    def get(self):
        """Tell whom the credentials belong to (users and integration tokens)

        ---
        A cheap way for a factory machine to check its token before sending data.
        """
        principal = current_principal()
        return {
            "kind": principal.kind,
            "organization_id": principal.organization_id,
            "organization_name": principal.organization.name,
            "scopes": list(principal.scopes),
            "user_id": principal.user.id if principal.user else None,
            "token_id": principal.token.id if principal.token else None,
            "token_name": principal.token.name if principal.token else None,
        }


@blp.route("/integration-tokens")
class IntegrationTokens(MethodView):
    @blp.response(200, IntegrationTokenSchema(many=True))
    @authenticated(admin=True)
    def get(self):
        """List the organization's integration tokens (without secrets)"""
        return tokens.list_tokens(current_organization())

    @blp.response(201, IntegrationTokenCreatedSchema)
    @authenticated(admin=True)
    @token_creation
    @blp.arguments(TokenCreateSchema)
    def post(self, data):
        """Create an integration token (the secret is shown only in this response)

        ---
        Scopes: `ingest` (push readings) and `read` (read them back); default both.
        """
        with service_errors():
            token, raw = tokens.issue_token(
                current_organization(), data["name"], data["scopes"], current_principal().user
            )
        db.session.commit()
        token.token = raw
        return token


@blp.route("/integration-tokens/<int:token_id>")
class IntegrationTokenById(MethodView):
    @blp.response(204)
    @authenticated(admin=True)
    def delete(self, token_id):
        """Revoke an integration token (idempotent)"""
        with service_errors():
            tokens.revoke_token(current_organization(), token_id)
        db.session.commit()
