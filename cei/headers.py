"""Security headers on every response: pages, JSON, CSV, static files and errors alike.

The Content-Security-Policy allows scripts, styles and images from this origin only (plus
``data:`` images, which Swagger UI's icons use): no inline ``<script>``, no ``style=``
attributes, no ``on…=`` handlers in templates (``tests/security/test_templates.py``
checks). HSTS is sent in production only, where the app is served over HTTPS.
"""

from flask import current_app

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"


def add_security_headers(response):
    """Set the headers (a view may have set its own stricter value first)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config.get("CEI_ENV") == "production":
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    return response


def register(app):
    """Add the headers to every response ``app`` sends."""
    app.after_request(add_security_headers)
