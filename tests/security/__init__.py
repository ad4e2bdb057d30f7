"""Security: CSRF, sessions, headers, passwords, rate limits, logs, lint."""
