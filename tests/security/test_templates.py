"""Templates hold nothing the Content-Security-Policy would block: no inline scripts or
styles, no event-handler attributes, no javascript: URLs."""

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
FORBIDDEN = {
    # A data block (type="application/json") is not run, so the policy does not apply to it.
    "inline <script>": re.compile(
        r"<script(?![^>]*\bsrc=)(?![^>]*\btype=\"application/json\")[^>]*>", re.IGNORECASE
    ),
    "<style> element": re.compile(r"<style\b", re.IGNORECASE),
    "style= attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "on…= handler": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def problems(text):
    return [name for name, pattern in FORBIDDEN.items() if pattern.search(text)]


def test_the_checks_catch_what_they_look_for():
    assert problems("<script>alert(1)</script>") == ["inline <script>"]
    assert problems('<script type="application/json">{"a": 1}</script>') == []
    assert problems('<div style="color: red">') == ["style= attribute"]
    assert problems('<button onclick="go()">') == ["on…= handler"]
    assert problems('<script src="/static/app.js"></script><p class="x">') == []


TEMPLATE_FILES = sorted(TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda path: str(path.relative_to(TEMPLATES)))
def test_template_follows_the_policy(path):
    assert problems(path.read_text(encoding="utf-8")) == []


def test_there_are_templates_to_check():
    assert len(TEMPLATE_FILES) >= 4


POST_FORM = re.compile(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", re.IGNORECASE | re.DOTALL)


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda path: str(path.relative_to(TEMPLATES)))
def test_every_post_form_carries_a_csrf_token(path):
    for body in POST_FORM.findall(path.read_text(encoding="utf-8")):
        assert "csrf_token" in body, body[:200]
