"""Celery's entry point: `celery -A worker worker` runs the background jobs (mall/worker.py),
`celery -A worker beat -S redbeat.RedBeatScheduler` schedules them once per cluster.
Reads the same environment as wsgi.py (DATABASE_URL, REDIS_URL, SECRET_KEY, ...)."""
from mall import create_app
from mall.worker import celery_for

app = create_app()
celery = celery_for(app)
