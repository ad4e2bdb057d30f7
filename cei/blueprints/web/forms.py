"""Web forms (CSRF-protected by Flask-WTF). Each field's rule is its ``description``, shown
beside the field before anything is sent."""

from functools import cache
from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    EmailField,
    FloatField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.validators import Regexp as Pattern
from wtforms.widgets import CheckboxInput, ListWidget

from cei.services.ingest.units import UNIT_NAMES
from cei.services.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, password_weakness
from cei.services.tokens import SCOPES

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK")
TIME_RULE = r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$"
ID_RULE = "1–100 characters, no “/”. Factories send this id with every reading."
SCOPE_HELP = {
    "ingest": "ingest — send readings",
    "read": "read — read data back (summaries, series, exports)",
}


def hard_to_guess(form, field):
    """Refuse common and easily guessed passwords, saying why (the sign-up service's rule)."""
    related = [getattr(form, name).data for name in ("email", "full_name", "organization_name")]
    weakness = password_weakness(field.data or "", related)
    if weakness:
        raise ValidationError(weakness)


@cache
def timezone_choices():
    """Return the IANA timezone names a person would pick, sorted (``UTC`` first)."""
    names = sorted(
        name
        for name in available_timezones()
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/", "posix", "right"))
    )
    return ["UTC", *names]


class CeiForm(FlaskForm):
    """A CSRF-protected form whose token field renders without an id.

    Several forms share a page (the logout button is on every one), and their hidden
    ``csrf_token`` inputs must not repeat an id.
    """

    class Meta:
        def render_field(self, field, render_kw):
            if field.type == "CSRFTokenField":
                render_kw = {"id": False, **render_kw}
            return super().render_field(field, render_kw)


class MultiCheckboxField(SelectMultipleField):
    """A group of checkboxes with one value each."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SignupForm(CeiForm):
    """Create an organization and its admin."""

    organization_name = StringField(
        "Organization",
        validators=[DataRequired(), Length(max=200)],
        description="Your company's name, as your colleagues will see it.",
    )
    full_name = StringField("Your name", validators=[Optional(), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(
        "Password",
        validators=[
            DataRequired(),
            Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH),
            hard_to_guess,
        ],
        description=f"{MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters, not a common "
        "or easily guessed password.",
    )


class LoginForm(CeiForm):
    """Sign in."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired()])


class LogoutForm(CeiForm):
    """Sign out (a POST, so another site cannot log you out with a link)."""


class ConfirmForm(CeiForm):
    """A button that changes something: only its CSRF token travels."""


class AlertActionForm(CeiForm):
    """Move an alert to another status and/or add a note (the button pressed gives the status)."""

    status = StringField(validators=[Optional()])
    note = StringField(
        "Note",
        validators=[Optional(), Length(max=2000)],
        description="What you found or did (up to 2,000 characters).",
    )


class TokenForm(CeiForm):
    """Create an integration token."""

    name = StringField(
        "Name",
        validators=[DataRequired(), Length(max=100)],
        description="Up to 100 characters, e.g. the machine that will use it: “Line 1 PLC”.",
    )
    scopes = MultiCheckboxField(
        "Permissions",
        choices=[SelectChoice(scope, SCOPE_HELP.get(scope, scope)) for scope in SCOPES],
        default=list(SCOPES),
        validators=[DataRequired(message="Choose at least one permission.")],
        description="A factory client needs ingest; an integrator reading data needs read.",
    )


class OrganizationForm(CeiForm):
    """The organization's name, currency, default tariff and timezone."""

    # Its own id: the token form on the same page has a "name" field too.
    name = StringField(
        "Organization name", id="organization_name", validators=[DataRequired(), Length(max=200)]
    )
    currency = SelectField("Currency", choices=[SelectChoice(code) for code in CURRENCIES])
    tariff_per_kwh = FloatField(
        "Default tariff (per kWh)",
        validators=[InputRequired(), NumberRange(min=0, max=999_999)],
        description="Price of one kWh in your currency, e.g. 0.20. Sites may override it.",
    )
    timezone = SelectField(
        "Timezone",
        description="New sites start in this timezone; each site can have its own.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices()


class SiteForm(CeiForm):
    """A site's name, timezone, location, operating schedule and tariff."""

    site_id = StringField(
        "Site id",
        validators=[DataRequired(), Length(max=100)],
        description=ID_RULE + " It cannot be changed later.",
    )
    name = StringField(
        "Name", validators=[Optional(), Length(max=200)], description="Shown in the app."
    )
    timezone = SelectField(
        "Timezone",
        description="Days, nights and weekends are counted in this timezone.",
    )
    location = StringField(
        "Location", validators=[Optional(), Length(max=200)], description="e.g. Bologna, IT"
    )
    days = MultiCheckboxField(
        "Operating days",
        choices=[SelectChoice(str(number), name) for number, name in enumerate(WEEKDAYS)],
        description="Consumption outside these days and hours counts as night or weekend use.",
    )
    start = StringField(
        "Opens at",
        validators=[InputRequired(), Pattern(TIME_RULE, message="Use HH:MM, e.g. 07:00.")],
        description="HH:MM, site time.",
    )
    end = StringField(
        "Closes at",
        validators=[InputRequired(), Pattern(TIME_RULE, message="Use HH:MM, e.g. 19:00.")],
        description="HH:MM after the opening time; 24:00 for midnight.",
    )
    tariff_per_kwh = FloatField(
        "Tariff (per kWh)",
        validators=[Optional(), NumberRange(min=0, max=999_999)],
        description="Leave blank to use the organization's default tariff.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices()


class UploadForm(CeiForm):
    """Upload a CSV file of readings."""

    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file to upload.")])
    site_id = StringField(
        "Default site id",
        validators=[Optional(), Length(max=100)],
        render_kw={"list": "known-sites"},
        description="Used for rows without a site_id column or cell.",
    )
    meter_id = StringField(
        "Default meter id",
        validators=[Optional(), Length(max=100)],
        description="Used for rows without a meter_id column or cell.",
    )
    unit = SelectField(
        "Unit",
        choices=[SelectChoice("", "kWh (or the file's unit column)")]
        + [SelectChoice(unit) for unit in UNIT_NAMES],
        validators=[Optional()],
        description="For rows without a unit column or cell.",
    )
    on_conflict = SelectField(
        "When a different value is already stored",
        choices=[
            SelectChoice("reject", "Keep the stored value and report the row"),
            SelectChoice("update", "Replace it"),
        ],
        default="reject",
    )


class ReportForm(CeiForm):
    """Generate a 7-day report of one site or of the whole portfolio."""

    site_id = SelectField(
        "Report on",
        choices=[],
        description="One site, or every site with the totals first.",
    )
    period_end = DateField(
        "Last day",
        validators=[Optional()],
        description="The 7 days end on this day (default: the last day that has ended at "
        "the site, or at every site).",
    )
