"""Schemathesis over the app's OpenAPI document, against the served app.

Every operation gets schema-valid and schema-invalid requests, with an admin's access token
and an integration token (both scopes) in turn. The checks (``schemathesis.toml``): no 5xx,
every status code and response body as documented, schema-valid requests accepted and
schema-invalid ones refused. A schema-valid request may still break a rule that no JSON
schema can state (``RULES_BEYOND_THE_SCHEMA``); only those 422 answers are excused.

``CEI_FUZZ_EXAMPLES`` raises the examples per operation (default: the toml's), and
``CEI_FUZZ_SEED`` picks another seed, for a longer hunt than CI's.
"""

import os
from pathlib import Path

import requests
import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

from cei import create_app
from cei.blueprints.site_analytics.schemas import MAX_BASELINE_HOURS

CONFIG = schemathesis.Config.from_path(Path(__file__).with_name("schemathesis.toml"))
if os.environ.get("CEI_FUZZ_SEED"):
    CONFIG.update(seed=int(os.environ["CEI_FUZZ_SEED"]), max_failures=None)
if os.environ.get("CEI_FUZZ_EXAMPLES"):
    CONFIG.projects.default.generation.update(max_examples=int(os.environ["CEI_FUZZ_EXAMPLES"]))

# 422 answers to schema-valid requests that are right all the same: rules across fields or
# about content that a JSON schema cannot state. (code, messages; None = any message)
RULES_BEYOND_THE_SCHEMA = {
    # zxcvbn's judgement of a password (sign-up, password change)
    ("WEAK_PASSWORD", None),
    # what an uploaded file holds
    ("INVALID_CSV", None),
    # a report period must have ended (in the site's timezone) and start after 2000-01-01
    ("INVALID_PERIOD", None),
    # fields that depend on each other
    ("VALIDATION_ERROR", "end must be after start"),
    ("VALIDATION_ERROR", "end must be after start (end may be 24:00)"),
    ("VALIDATION_ERROR", "start and end go together"),
    ("VALIDATION_ERROR", "Give window_hours or start/end, not both"),
    # the length of a start/end window
    ("WINDOW_TOO_LONG", None),
    ("VALIDATION_ERROR", f"At most {MAX_BASELINE_HOURS} hours"),
    ("VALIDATION_ERROR", "Send a status, a note, or both"),
    ("VALIDATION_ERROR", "The critical threshold must be above the warning one"),
}


def openapi_document():
    """The app's OpenAPI document (the served app's is compared with it below)."""
    app = create_app(
        {
            "DATABASE_URL": "sqlite://",
            "TESTING": True,
            "SECRET_KEY": "openapi-only-" + "x" * 32,
            "ANALYTICS_BACKGROUND": False,
        }
    )
    return app.test_client().get("/openapi.json").get_json()


DOCUMENT = openapi_document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


def messages(detail):
    """Every message in an error's ``detail`` (nested by location and field)."""
    if isinstance(detail, str):
        yield detail
    elif isinstance(detail, list):
        for item in detail:
            yield from messages(item)
    elif isinstance(detail, dict):
        for value in detail.values():
            yield from messages(value)


def beyond_the_schema(response):
    """Whether ``response`` refuses a request only for rules a schema cannot state."""
    if response.status_code != 422:
        return False
    body = response.json()
    code = body.get("code")
    if (code, None) in RULES_BEYOND_THE_SCHEMA:
        return True
    found = list(messages(body.get("detail")))
    return bool(found) and all((code, message) in RULES_BEYOND_THE_SCHEMA for message in found)


def test_the_served_document_is_the_one_fuzzed(fuzz_target):
    served = requests.get(f"{fuzz_target.url}/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == DOCUMENT


@schema.parametrize()
def test_every_operation_keeps_its_documented_contract(case, fuzz_target):
    headers = fuzz_target.next_credentials()
    fuzz_target.aim(case)
    response = case.call(base_url=fuzz_target.url, headers=headers, timeout=30)
    excused = [positive_data_acceptance] if beyond_the_schema(response) else []
    case.validate_response(response, excluded_checks=excused, headers=headers)
