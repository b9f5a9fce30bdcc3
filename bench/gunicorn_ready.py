"""gunicorn config for bench/checkout_wrk.py: each worker marks itself ready once it has
imported the app, so 'cold' means booted but not yet serving (not still importing)."""
import os
from pathlib import Path


def post_worker_init(worker):
    Path(os.environ["BENCH_READY_DIR"], str(worker.pid)).touch()
