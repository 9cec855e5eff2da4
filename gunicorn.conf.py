"""gunicorn settings, read automatically from the repository root (`gunicorn app:app`).

The models are built once in the master (preload_app) and the workers share those pages.
Command-line flags such as `-w 2 -b HOST:PORT` override what is set here.
"""

import gc
import glob
import os
import shutil
import tempfile

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
preload_app = True
timeout = 120
graceful_timeout = 30
# Logs as one JSON object per line under gunicorn, unless LOG_FORMAT says otherwise (logs.py).
os.environ.setdefault("LOG_FORMAT", "json")
accesslog = "-" if os.environ.get("ACCESS_LOG", "").lower() in ("1", "true", "yes") else None

# /metrics adds up every worker's counts through files in PROMETHEUS_MULTIPROC_DIR (see
# monitoring.py). Set here, before the app is imported and the workers are forked: a folder of
# the operator's choosing is emptied of an earlier run's counts, else a fresh one is made.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
_own_metrics_dir = not _metrics_dir
if _own_metrics_dir:
    _metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="recsys-metrics-")
else:
    os.makedirs(_metrics_dir, exist_ok=True)
    for _stale in glob.glob(os.path.join(_metrics_dir, "*.db")):
        os.remove(_stale)


def pre_fork(server, worker):
    # The models were loaded before the fork (preload_app): keep the collector off those objects,
    # so it never walks them and never writes to (and so copies) the pages the workers share.
    gc.freeze()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
