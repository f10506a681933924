"""gunicorn settings for the web process (`gunicorn -c config/gunicorn.py config.wsgi`).

With PROMETHEUS_MULTIPROC_DIR set, every worker writes its counters (telemetry/counters.py) to
files there and a scrape sums them (monitoring/metrics.py); a worker that exits is marked dead
so its live gauges (none of ours: lag and dead letters are read at scrape time) stop counting. The directory is
emptied by whoever starts the process group (`make up`), never here: Celery workers on the
same host share it, and their open files must not be unlinked under them. Each worker, once
it has loaded the application, settles (config/startup.py).

The request line (method, path with its query string, protocol) may be up to 8190 bytes,
gunicorn's largest, not its default 4094: a list filtered by a few dozen ids or a long search
fits. A longer one is refused by gunicorn itself, before the application, with an HTML 414
(docs/api.md).
"""

from __future__ import annotations

import os
from typing import Any

limit_request_line = 8190


def post_worker_init(worker: Any) -> None:
    """The worker has loaded the application: its objects leave the garbage collector's passes
    (config/startup.py)."""
    from config.startup import settle

    settle()


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
