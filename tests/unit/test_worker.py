"""The Celery wiring (mall/worker.py): one task per job, scheduled by RedBeat, check-in credits
on their own queue, and `flask mall jobs` running the same functions."""
from mall import worker


def test_each_job_is_a_celery_task_on_the_beat_schedule(app):
    app.config.update(REDIS_URL="redis://127.0.0.1:6379/9")   # the broker; nothing connects here
    try:
        celery = worker.celery_for(app)
    finally:
        app.config.update(REDIS_URL=None)
    names = {f"mall.{job}" for job in worker.JOBS}
    assert names <= set(celery.tasks)
    assert set(celery.conf.beat_schedule) == names
    assert celery.conf.beat_schedule["mall.credit_checkins"]["schedule"] == 1.0
    assert celery.conf.task_routes["mall.credit_checkins"]["queue"] == worker.CHECKIN_QUEUE
    assert celery.conf.redbeat_key_prefix.startswith("{")   # one Redis Cluster slot for the schedule
    assert celery.conf.task_acks_late


def test_a_task_runs_its_job_inside_the_app(app):
    app.config.update(REDIS_URL="redis://127.0.0.1:6379/9")
    try:
        celery = worker.celery_for(app)
    finally:
        app.config.update(REDIS_URL=None)
    assert celery.tasks["mall.expire_holds"]() == "reservations: 0 expired holds released"


def test_mall_jobs_runs_every_job_once_in_order(app):
    result = app.test_cli_runner().invoke(args=["mall", "jobs"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "reservations: 0 expired holds released"
    assert "check-ins: credited at once (no Redis)" in lines
    assert lines[-1].startswith("budget alerts:")
