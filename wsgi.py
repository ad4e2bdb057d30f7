"""WSGI entry point: ``gunicorn wsgi:app``."""

import gc

from cei import create_app

app = create_app()
# Start-up objects (modules, routes, schemas) live as long as the process: keep them out of
# the cyclic collector's full passes, which then only walk what requests allocate.
gc.freeze()
