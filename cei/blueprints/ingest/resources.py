"""Ingestion of meter readings: ``/api/v1/timeseries/batch`` and ``/api/v1/timeseries/upload``."""

from functools import wraps

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from cei import metrics
from cei.api import ErrorEnvelopeSchema, api_abort
from cei.blueprints.errors import service_errors
from cei.blueprints.ingest.schemas import (
    BatchRequestSchema,
    BatchResultSchema,
    UploadFormSchema,
    UploadResultSchema,
)
from cei.http import reads_raw_json
from cei.security import authenticated, current_principal
from cei.services import ingest
from cei.transactions import run_committed

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


def requires_body(accepted, message):
    """Answer 415 with ``message`` unless ``accepted()`` says the body's type is right."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not accepted():
                api_abort(415, "UNSUPPORTED_MEDIA_TYPE", message)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def _is_json():
    return request.is_json


def _is_multipart():
    return request.mimetype == "multipart/form-data"


def _caller():
    """The caller's organization and integration token id (None for a user's token)."""
    principal = current_principal()
    token_id = principal.token.id if principal.token is not None else None
    return principal.organization, token_id


def _shortcuts():
    return current_app.config["INGEST_SHORTCUTS"]


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
    @requires_body(_is_json, "Send the batch as application/json")
    def post(self):
        """Ingest a batch of meter readings

        Needs the `ingest` scope (an integration token, or a user's access token). Records
        are checked one by one: the answer is 200 whenever the request itself is well formed,
        with counts and one error per rejected record (`index` is 0-based). Exact re-sends
        count as `skipped_duplicate`. Sites and meters are created on first use. All stored
        records commit together: after a failure nothing is stored and a retry is safe.
        """
        organization, token_id = _caller()
        with service_errors():
            result = run_committed(
                lambda: ingest.ingest_json(
                    organization, g.json_raw, token_id=token_id, shortcuts=_shortcuts()
                )
            )
        metrics.count_ingest("batch", result)
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
    @requires_body(_is_multipart, "Send the file as multipart/form-data")
    def post(self):
        """Upload a CSV file of meter readings

        Multipart form with the file in `file`; `site_id`, `meter_id` and `unit` fill in
        what the file leaves out. Rows go through the same checks as `/batch`, and the
        answer has the same counts plus `rows` (data rows read). Each error gives `index`
        (0-based among data rows) and `row`: the line in the file, where the header is
        row 1 and the first data row is row 2. The file is read as a stream and stored in
        one transaction: entirely, or (after a failure) not at all.
        """
        upload = request.files.get("file")
        if upload is None:
            api_abort(
                422,
                "VALIDATION_ERROR",
                "Send the CSV file in the form field `file`",
                detail={"file": ["Missing data for required field."]},
            )
        organization, token_id = _caller()
        form = request.form

        def store():
            upload.stream.seek(0)  # a run again reads the file again
            return ingest.ingest_csv(
                organization,
                upload.stream,
                defaults=form,
                source=form.get("source") or f"upload:{upload.filename or 'file'}"[:200],
                on_conflict=form.get("on_conflict"),
                token_id=token_id,
                shortcuts=_shortcuts(),
            )

        with service_errors():
            result = run_committed(store)
        metrics.count_ingest("upload", result)
        return {**result.as_dict(), "request_id": g.request_id}
