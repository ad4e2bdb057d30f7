"""Read a PDF back: its text (pdftotext) and its first page as PNG (pdftoppm)."""

import shutil
import subprocess

import pytest


def need(tool):
    """Skip unless poppler's ``tool`` is installed."""
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} (poppler-utils) is not installed")


def pdf_text(pdf_bytes, tmp_path, layout=True):
    """Return the PDF's text, pages separated by form feeds."""
    need("pdftotext")
    source = tmp_path / "report.pdf"
    source.write_bytes(pdf_bytes)
    args = ["pdftotext", "-enc", "UTF-8"] + (["-layout"] if layout else []) + [str(source), "-"]
    return subprocess.run(args, check=True, capture_output=True, timeout=60).stdout.decode()


def first_page_png(pdf_bytes, directory, name="report-page-1"):
    """Render the first page to ``directory/name.png`` (a test artifact); return its path."""
    need("pdftoppm")
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / f"{name}.pdf"
    source.write_bytes(pdf_bytes)
    prefix = directory / name
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "80",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(source),
            str(prefix),
        ],
        check=True,
        timeout=60,
    )
    return prefix.with_suffix(".png")
