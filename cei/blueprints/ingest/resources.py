"""Ingestion of meter readings: ``/api/v1/timeseries/batch`` and ``/api/v1/timeseries/upload``."""

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from cei.api import ErrorEnvelopeSchema, api_abort
from cei.blueprints.errors import service_errors
from cei.blueprints.ingest.schemas import (
    BatchRequestSchema,
    BatchResultSchema,
    UploadFormSchema,
    UploadResultSchema,
)
from cei.extensions import db
from cei.gcpause import collector_paused
from cei.http import parse_json, reads_raw_json
from cei.security import authenticated, current_principal
from cei.services import ingest
from cei.services.ingest_checks import MAX_ID_LENGTH, UNITS, text_problem
from cei.services.ingest_fast import decode_batch

blp = Blueprint(
    "ingest", __name__, url_prefix="/api/v1/timeseries", description="Ingest meter readings"
)

ERROR_RESPONSES = {
    400: "Malformed JSON",
    401: "Missing, unknown or revoked token",
    403: "The token lacks the `ingest` scope",
    413: "Body or batch too large",
    415: "Wrong content type",
    422: "The request itself is not valid (no `records` list, bad `on_conflict` …)",
    503: "Database unavailable; retry after `Retry-After` seconds (nothing was stored)",
}


def document_errors(view):
    """Add the endpoint's error answers (all in the error envelope) to its OpenAPI doc."""
    for status, description in ERROR_RESPONSES.items():
        view = blp.alt_response(status, schema=ErrorEnvelopeSchema, description=description)(view)
    return view


def _caller():
    principal = current_principal()
    token_id = principal.token.id if principal.token is not None else None
    return principal.organization, token_id


def _on_conflict(value):
    if value in (None, ""):
        return "reject"
    if value not in ingest.ON_CONFLICT:
        api_abort(
            422,
            "VALIDATION_ERROR",
            'on_conflict must be "reject" or "update"',
            detail={"on_conflict": ['Must be one of: "reject", "update".']},
        )
    return value


def _source(value, default=None):
    if value is None or value == "":
        return default
    if not isinstance(value, str) or len(value) > 200:
        api_abort(
            422,
            "VALIDATION_ERROR",
            "source must be a string of at most 200 characters",
            detail={"source": ["Not a string of at most 200 characters."]},
        )
    return value


def _typed_batch():
    """Return the body as a :class:`~ingest_fast.TypedBatch`, or None when it is not one."""
    if not request.is_json:
        api_abort(415, "UNSUPPORTED_MEDIA_TYPE", "Send the batch as application/json")
    with collector_paused():
        return decode_batch(g.json_raw)


def _batch_request(typed=None):
    """Return ``(records, source, on_conflict)`` of a well-formed batch, or abort.

    ``typed`` is the body decoded by the fast path, when it could be; otherwise the body is
    parsed as plain JSON.
    """
    if typed is not None:
        records, source, on_conflict = typed.records, typed.source, typed.on_conflict
    else:
        body = parse_json(g.json_raw)
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list):
            api_abort(
                422,
                "VALIDATION_ERROR",
                "The body must be an object with a `records` list",
                detail={"records": ["Missing or not a list."]},
            )
        source, on_conflict = body.get("source"), body.get("on_conflict")
    if len(records) > ingest.MAX_BATCH_RECORDS:
        # Checked before anything is read or written: nothing of the batch is stored.
        api_abort(
            413,
            "BATCH_TOO_LARGE",
            f"A batch holds at most {ingest.MAX_BATCH_RECORDS:,} records; split it",
            detail={"max_records": ingest.MAX_BATCH_RECORDS, "records": len(records)},
        )
    return records, _source(source), _on_conflict(on_conflict)


def _upload_request():
    """Return ``(file, defaults, source, on_conflict)`` of a well-formed upload, or abort."""
    if request.mimetype != "multipart/form-data":
        api_abort(415, "UNSUPPORTED_MEDIA_TYPE", "Send the file as multipart/form-data")
    upload = request.files.get("file")
    if upload is None:
        api_abort(
            422,
            "VALIDATION_ERROR",
            "Send the CSV file in the form field `file`",
            detail={"file": ["Missing data for required field."]},
        )
    form = request.form
    default_source = f"upload:{upload.filename or 'file'}"[:200]
    return (
        upload,
        _upload_defaults(form),
        _source(form.get("source"), default=default_source),
        _on_conflict(form.get("on_conflict")),
    )


reads_raw_json("ingest.Batch")


@blp.route("/batch")
class Batch(MethodView):
    @blp.doc(
        requestBody={
            "required": True,
            "content": {"application/json": {"schema": BatchRequestSchema}},
        }
    )
    @blp.response(200, BatchResultSchema)
    @document_errors
    @authenticated(scope="ingest")
    def post(self):
        """Ingest a batch of meter readings

        Needs the `ingest` scope (an integration token, or a user's access token). Records
        are checked one by one: the answer is 200 whenever the request itself is well formed,
        with counts and one error per rejected record (`index` is 0-based). Exact re-sends
        count as `skipped_duplicate`. Sites and meters are created on first use. All stored
        records commit together: after a failure nothing is stored and a retry is safe.
        """
        typed = _typed_batch()
        organization, token_id = _caller()
        result = None
        if typed is not None:
            # The fast path: all records well formed (it declines, storing nothing, if not).
            records, source, on_conflict = _batch_request(typed)
            result = ingest.ingest_typed_batch(
                organization, records, source=source, on_conflict=on_conflict, token_id=token_id
            )
        if result is None:
            records, source, on_conflict = _batch_request()
            result = ingest.ingest_batch(
                organization, records, source=source, on_conflict=on_conflict, token_id=token_id
            )
        db.session.commit()
        return {**result.as_dict(), "request_id": g.request_id}


@blp.route("/upload")
class Upload(MethodView):
    @blp.doc(
        requestBody={
            "required": True,
            "content": {"multipart/form-data": {"schema": UploadFormSchema}},
        }
    )
    @blp.response(200, UploadResultSchema)
    @document_errors
    @authenticated(scope="ingest")
    def post(self):
        """Upload a CSV file of meter readings

        Multipart form with the file in `file`; `site_id`, `meter_id` and `unit` fill in
        what the file leaves out. Rows go through the same checks as `/batch`, and the
        answer has the same counts plus `rows` (data rows read). Each error gives `index`
        (0-based among data rows) and `row`: the line in the file, where the header is
        row 1 and the first data row is row 2. The file is read as a stream and stored in
        one transaction: entirely, or (after a failure) not at all.
        """
        upload, defaults, source, on_conflict = _upload_request()
        organization, token_id = _caller()
        with service_errors():
            result = ingest.ingest_csv(
                organization,
                upload.stream,
                defaults=defaults,
                source=source,
                on_conflict=on_conflict,
                token_id=token_id,
            )
        db.session.commit()
        return {**result.as_dict(), "request_id": g.request_id}


def _upload_defaults(form):
    defaults = {}
    problems = {}
    for name in ("site_id", "meter_id"):
        value = form.get(name)
        if value:
            problem = text_problem(value, name, MAX_ID_LENGTH)
            if problem:
                problems[name] = [problem]
            defaults[name] = value
    unit = form.get("unit")
    if unit:
        if unit.strip().lower() not in UNITS:
            problems["unit"] = ["Must be one of Wh, kWh, MWh, W, kW, MW."]
        defaults["unit"] = unit
    if problems:
        api_abort(422, "VALIDATION_ERROR", "Invalid form fields", detail=problems)
    return defaults
