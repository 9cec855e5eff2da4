"""gunicorn settings, read automatically from the repository root (`gunicorn app:app`).

The models are built once in the master (preload_app) and the workers share those pages.
Command-line flags such as `-w 2 -b HOST:PORT` override what is set here.
"""

import gc
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
preload_app = True
timeout = 120
graceful_timeout = 30
accesslog = "-" if os.environ.get("ACCESS_LOG", "").lower() in ("1", "true", "yes") else None


def pre_fork(server, worker):
    # The models were loaded before the fork (preload_app): keep the collector off those objects,
    # so it never walks them and never writes to (and so copies) the pages the workers share.
    gc.freeze()
