"""Upload a CSV file of readings through the ingestion pipeline, and show what happened."""

from flask import make_response, render_template, request
from flask_login import login_required

from cei import metrics
from cei.blueprints.web.access import no_store, organization
from cei.blueprints.web.blueprint import bp
from cei.blueprints.web.forms import UploadForm
from cei.extensions import db
from cei.services import sites as site_service
from cei.services.errors import ServiceError
from cei.services.ingest import ingest_csv
from cei.services.ingest.csv_files import HEADER_ALIASES
from cei.services.ingest.limits import MAX_ERRORS
from cei.transactions import run_committed

# The upload script asks for the result alone, to put it under the form it keeps on screen.
PARTIAL_HEADER = "X-CEI-Partial"


def _aliases():
    """``{field: [accepted header names]}`` for the page's explanation of the columns."""
    names = {}
    for header, field in HEADER_ALIASES.items():
        names.setdefault(field, []).append(header)
    return names


def _defaults(form):
    return {
        name: value.strip()
        for name, value in (
            ("site_id", form.site_id.data),
            ("meter_id", form.meter_id.data),
            ("unit", form.unit.data),
        )
        if value and value.strip()
    }


@bp.route("/upload", methods=["GET", "POST"])
@login_required
def upload():
    """Upload a CSV file of readings; show the counts and every failed row."""
    form = UploadForm()
    result = filename = None
    status = 200
    if form.validate_on_submit():
        upload_file = form.file.data
        filename = upload_file.filename or "upload.csv"

        def store():
            upload_file.stream.seek(0)  # a run again reads the file again
            return ingest_csv(
                organization(),
                upload_file.stream,
                defaults=_defaults(form),
                source=f"web-upload:{filename}"[:200],
                on_conflict=form.on_conflict.data,
            )

        try:
            result = run_committed(store)
            metrics.count_ingest("upload", result)
        except ServiceError as exc:
            db.session.rollback()
            form.file.errors.append(exc.message)
    if form.errors:
        status = 422
    context = {
        "form": form,
        "result": result,
        "filename": filename,
        "aliases": _aliases(),
        "max_errors": MAX_ERRORS,
        "sites": site_service.list_sites(organization()),
    }
    template = (
        "web/upload_result.html" if request.headers.get(PARTIAL_HEADER) else "web/upload.html"
    )
    return no_store(make_response(render_template(template, **context), status))
