"""Load test: two app instances, two RQ workers, one PostgreSQL and one Redis, on 127.0.0.1.

``python -m bench.load --help`` (or ``python bench/load/run.py``) runs it; ``run.py`` tells
what it does. The modules: ``database`` (the database, the bare insert rate, the counts),
``processes`` (gunicorn and ``cei worker`` processes, CPU time), ``tenant`` (organization,
tokens, sites, meters), ``writers`` and ``readers`` (the load clients), ``checks`` (the
correctness verdicts) and ``figures`` (percentiles and the printed table).
"""
