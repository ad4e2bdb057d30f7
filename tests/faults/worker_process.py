"""``cei worker`` as its own process for the fault tests: the real worker, with a baseline
plugin that takes its time (the test kills the process in the middle of it).

    CEI_TEST_STARTED_FILE=... python -m tests.faults.worker_process DATABASE_URL REDIS_URL

The plugin creates the started file when the analysis reaches it, then sleeps.
"""

import os
import sys
import time
from pathlib import Path

from cei.plugins.base import Plugin, PluginResult

HEARTBEAT_SECONDS = 0.3


class SlowBaseline(Plugin):
    """Says that it started (creates the started file), then takes a minute."""

    name = "baseline"
    version = "1.0"

    def run(self, context):
        Path(os.environ["CEI_TEST_STARTED_FILE"]).touch()
        time.sleep(60)
        return PluginResult(data={})


def main(database_url, redis_url):
    """Run the worker on the analytics queue until killed."""
    from cei import create_app
    from cei.tasks.queues import QUEUE_NAME
    from cei.tasks.worker import run_worker
    from tests.analytics.conftest import use_plugins

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "WORKER_HEARTBEAT_SECONDS": HEARTBEAT_SECONDS,
        }
    )
    use_plugins(app, [SlowBaseline()])
    with app.app_context():
        run_worker(app, [QUEUE_NAME])


if __name__ == "__main__":
    main(*sys.argv[1:3])
