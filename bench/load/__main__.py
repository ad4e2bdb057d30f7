"""``python -m bench.load``: run the load test."""

from bench.load.run import main

raise SystemExit(main())
