# CEI — two commands: `make run` serves the app, `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 5000
# gunicorn with CEI's settings (cei/gunicorn_config.py): its log lines in the app's format
# (CEI_LOG_FORMAT), the app's own access log (no query strings: a token sent as
# ?access_token=… must not land in a log). tests/security/test_server.py runs this line.
GUNICORN_CONFIG := python:cei.gunicorn_config

.PHONY: run test lint bench clean

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

## run: install, migrate the embedded SQLite database, seed the demo, serve on http://$(HOST):$(PORT)
run: $(VENV)/.installed
	$(VENV)/bin/cei init-db
	$(VENV)/bin/cei demo
	@echo "CEI is serving on http://$(HOST):$(PORT)  (API docs: http://$(HOST):$(PORT)/docs)"
	$(VENV)/bin/gunicorn -c $(GUNICORN_CONFIG) --workers 1 --threads 8 --bind $(HOST):$(PORT) \
		--timeout 120 wsgi:app

## test: install the dev extra and run the whole suite
test: $(VENV)/.dev-installed
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check cei client tests bench wsgi.py
	$(VENV)/bin/lint-imports
	$(VENV)/bin/bandit -q -r cei -ll

## bench: print ingestion, upload and read figures (SQLite and the local PostgreSQL)
bench: $(VENV)/.dev-installed
	$(PY) bench/ingest.py
	$(PY) bench/upload.py
	$(PY) bench/reads.py
	$(PY) bench/analytics_accuracy.py
	$(PY) bench/analytics_speed.py
	$(PY) bench/analytics_jobs.py
	$(PY) bench/reports.py
	$(PY) bench/web.py
	$(PY) -m bench.load

clean:
	rm -rf $(VENV) instance .pytest_cache
