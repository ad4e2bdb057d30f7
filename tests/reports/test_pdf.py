"""The PDF: figures read back, A4 with numbered pages, escaped text, nothing fetched."""

import http.server
import re
import threading

import pytest
from pypdf import PdfReader

from cei.services.reports import pdf
from tests.reports import samples
from tests.reports.pdftext import first_page_png, pdf_text

HOSTILE = '<img src="http://127.0.0.1:9/x">'


@pytest.fixture
def listener():
    """A real HTTP server on 127.0.0.1 that counts the requests it gets."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def squash(text):
    """Text without any whitespace (line wraps fall anywhere in a narrow column)."""
    return "".join(text.split())


def render(app_context, report, fetcher=None):
    return pdf.render_pdf(report, fetcher=fetcher)


def test_site_report_pdf_reads_back_with_its_figures(app_context, tmp_path, artifacts):
    site = samples.site_report(alerts=[samples.alert()], opportunities=[samples.OPPORTUNITY])
    document = render(app_context, samples.report([site]))
    reader = PdfReader(__import__("io").BytesIO(document))
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    text = pdf_text(document, tmp_path)
    pages = len(reader.pages)
    assert pages == 1  # a site's week on one page a plant director can forward
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert "Acme Plant" in text and "Plant One" in text and "16–22 Nov 2026" in text
    kpis = site.kpis
    assert f"{kpis.kwh:,.1f}" in text  # 1,740.0
    assert f"€{kpis.cost:,.2f}" in text  # €435.00
    assert f"+{kpis.deviation_pct:.1f} %" in text  # +11.1 %
    assert f"{kpis.baseline_kwh:,.1f}" in text
    for day in site.days:
        row = re.search(rf"{day.day.isoformat()}\s+([\d,.]+)\s+([\d,.]+)", text)
        assert row is not None, day.day
        assert row.groups() == (f"{day.kwh:,.1f}", f"{day.baseline_kwh:,.1f}")
    flat = squash(pdf_text(document, tmp_path, layout=False))
    assert squash("Night consumption 40 % above base load") in flat
    assert "Switchoffnightloads" in flat and "€912.50" in text
    assert "CV(RMSE)12.5%" in flat and "Nodatagaps" in flat
    # How a saving is estimated is told once, whole, in the methodology (not cut in the table).
    assert squash("How savings are estimated: " + samples.OPPORTUNITY["method"]) in flat
    assert flat.count(squash(samples.OPPORTUNITY["method"])) == 1
    png = first_page_png(document, artifacts, "site-report-page-1")
    assert png.stat().st_size > 10_000


def test_portfolio_pdf_has_a_row_per_site_totals_and_a_page_per_site(app_context, tmp_path):
    sites = [
        samples.site_report(site_ref=samples.site(f"plant-{i}", f"Plant {i}")) for i in range(3)
    ]
    report = samples.report(sites)
    document = render(app_context, report)
    pages = pdf_text(document, tmp_path).split("\f")
    assert "Portfolio at a glance" in pages[0]
    total = re.search(r"Total\s+([\d,.]+)", pages[0])
    assert total.group(1) == f"{report.totals.kwh:,.1f}" == "5,220.0"
    for i in range(3):
        assert f"Plant {i}" in pages[0]
        assert any(
            page.lstrip().startswith("CEI") and f"Plant {i} plant-{i}" in page for page in pages
        )
    assert len([page for page in pages if page.strip()]) == 4


def test_a_site_with_gaps_says_so(app_context, tmp_path):
    period = samples.site_report().period
    missing = [period.start_ts + 3600 * (30 + k) for k in range(6)]
    document = render(app_context, samples.report([samples.site_report(missing=missing)]))
    text = " ".join(pdf_text(document, tmp_path, layout=False).split())
    assert "Data gaps: 6 of 168 hours of this period have no data" in text
    assert "Tue 17 Nov 06:00 – Tue 17 Nov 12:00 (6 h)" in text


def test_user_text_is_escaped_and_nothing_is_fetched(app_context, tmp_path, listener):
    url, hits = listener
    name = f'{HOSTILE} <img src="{url}/name"> <link rel="stylesheet" href="{url}/css">'
    site = samples.site_report(
        site_ref=samples.site(name=name, location=f'<iframe src="{url}/loc">'),
        alerts=[samples.alert(message=f'<img src="{url}/alert"> & <b>bold</b>')],
    )
    fetcher = pdf.static_only_fetcher(app_context.static_folder)
    document = render(app_context, samples.report([site]), fetcher=fetcher)
    text = squash(pdf_text(document, tmp_path, layout=False))
    assert squash(HOSTILE) in text
    assert squash(f'<img src="{url}/alert"> & <b>bold</b>') in text
    assert hits == []
    # Only the report's own stylesheet was asked for.
    assert [u.rsplit("/", 2)[-2:] for u in fetcher.requested] == [["reports", "report.css"]]
    assert fetcher.refused == []


def test_the_fetcher_refuses_everything_outside_the_static_folder(app_context, listener):
    url, hits = listener
    fetcher = pdf.static_only_fetcher(app_context.static_folder)
    static = pdf.static_base_url(app_context)
    html = (
        f'<link rel="stylesheet" href="{static}reports/report.css">'
        f'<link rel="stylesheet" href="{url}/style.css">'
        f'<img src="{url}/x.png"><img src="file:///etc/passwd">'
        f'<img src="{static}../../setup.cfg"><img src="data:image/png;base64,AAAA">'
        f'<img src="ftp://127.0.0.1/x">'
    )
    from weasyprint import HTML

    HTML(string=html, base_url=static, url_fetcher=fetcher).write_pdf()
    assert hits == []
    assert len(fetcher.refused) == 6
    assert fetcher.requested[0].endswith("reports/report.css")
    assert fetcher.requested[0] not in fetcher.refused
