"""Celery's entry point: `celery -A worker:celery worker` runs the background jobs (mall/worker.py),
`celery -A worker:celery beat -S redbeat.RedBeatScheduler` schedules them once per cluster.
Reads the same environment as wsgi.py (DATABASE_URL, REDIS_URL, SECRET_KEY, ...)."""
from mall import create_app
from mall.worker import celery_for

app = create_app()
celery = celery_for(app)
