"""Web forms (CSRF-protected by Flask-WTF)."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from cei.services.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, password_weakness


def hard_to_guess(form, field):
    """Refuse common and easily guessed passwords, saying why (the sign-up service's rule)."""
    related = [getattr(form, name).data for name in ("email", "full_name", "organization_name")]
    weakness = password_weakness(field.data or "", related)
    if weakness:
        raise ValidationError(weakness)


class SignupForm(FlaskForm):
    """Create an organization and its admin."""

    organization_name = StringField("Organization", validators=[DataRequired(), Length(max=200)])
    full_name = StringField("Your name", validators=[Optional(), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(
        "Password",
        validators=[
            DataRequired(),
            Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH),
            hard_to_guess,
        ],
    )


class LoginForm(FlaskForm):
    """Sign in."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired()])


class LogoutForm(FlaskForm):
    """Sign out (a POST, so another site cannot log you out with a link)."""
