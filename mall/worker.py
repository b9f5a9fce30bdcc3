"""Background work: one function per job, run by Celery workers or by `flask mall jobs`.

Each job takes the time it runs at and returns one line for the log. It opens its own unit
of work (mall/unit_of_work.py; jobs that commit per order or per batch call commit() as they
go), so a failing job leaves the others' work. The same functions run:

* as Celery tasks (`celery -A worker:celery worker`, see the top-level worker.py), each inside the
  Flask app's context, scheduled by celery-redbeat (`celery -A worker:celery beat -S redbeat.RedBeatScheduler`),
  whose lock in Redis makes one beat per cluster send each periodic task once;
* synchronously, one after another, from `flask mall jobs` (cron, or a small shop's demo).

Every job is idempotent and safe with several workers at once: rows are claimed with a
conditional UPDATE or `FOR UPDATE SKIP LOCKED`, or locked per member / presale and checked
again under the lock, so two workers on the same due work do each item once.

Like mall/cli.py this module is wiring: it may import every domain (tests/unit/test_structure.py).
"""
from datetime import datetime, timedelta

from celery import Celery
from flask import Flask, current_app

from .checkout import jobs as checkout_jobs
from .checkout.gateway import gateway_for
from .clock import now
from .engagement import burst
from .hq import analytics, segments
from .hq.alerts import send_due_alerts
from .instore.clawbacks import settle_due_clawbacks
from .locks import app_redis
from .notifications.delivery import deliver_pending
from .notifications.mail import mailer_for
from .games.management import close_ended_games
from .notifications.reminders import send_coupon_reminders, send_expiry_reminders
from .points.ledger import expire_due_points, release_due_pending
from .points.tiers import review_tiers
from .presale import services as presale
from .settings import current as current_settings
from .unit_of_work import unit
from .wallet.jobs import expire_due as expire_wallet_items


def expire_holds(at: datetime) -> str:
    with unit():
        held = checkout_jobs.expire_holds(at, gateway_for(current_app.config),
                                          hold_minutes=current_app.config["MALL_HOLD_MINUTES"])
    return f"reservations: {held} expired holds released"


def allocate_presales(at: datetime) -> str:
    lines = []
    for presale_id in presale.due_presales(at):
        with unit():
            outcome = presale.allocate(presale_id, at)
        lines.append(f"presale {presale_id}: {outcome['served']} served, {outcome['offered']} offered a substitute, "
                     f"{outcome['refunded']} refunded (no substitute)")
    return "\n".join(lines) or "presales: none due"


def expire_presale_offers(at: datetime) -> str:
    with unit():
        return f"presale offers: {presale.expire_offers(at)} expired and refunded"


def retry_refunds(at: datetime) -> str:
    with unit():
        return f"refunds: {checkout_jobs.retry_refunds(gateway_for(current_app.config), at)} sent"


def expire_points(at: datetime) -> str:
    with unit():
        return f"points expiry: {expire_due_points(at)} lot remainders expired"


def release_pending_points(at: datetime) -> str:
    with unit():
        return f"pending points: {release_due_pending(at)} purchases' points released after the return window"


def settle_clawbacks(at: datetime) -> str:
    with unit():
        return f"clawbacks: {settle_due_clawbacks(at)} points settled from refunded purchases"


def review_member_tiers(at: datetime) -> str:
    with unit():
        tiers = review_tiers(at)
    return f"tiers: {tiers['upgrade']} upgraded, {tiers['renewal']} renewed, {tiers['downgrade']} downgraded"


def expiry_reminders(at: datetime) -> str:
    with unit():
        return f"expiry reminders: {send_expiry_reminders(at)} new"


def coupon_reminders(at: datetime) -> str:
    with unit():
        return f"coupon reminders: {send_coupon_reminders(at)} new"


def expire_wallet(at: datetime) -> str:
    with unit():
        return f"wallet: {expire_wallet_items(at)} coupons and red packets expired"


def close_games(at: datetime) -> str:
    with unit():
        return f"games: {close_ended_games(at)} ended and their seeds revealed"


def send_emails(at: datetime) -> str:
    with unit():
        return f"emails: {deliver_pending(at, mailer_for(current_app.config))} sent"


def resync_admission(at: datetime) -> str:
    with unit():
        return f"admission: {checkout_jobs.resync_admission(current_app.extensions['mall.admission'])} counters resynced"


def roll_up_dashboard(at: datetime) -> str:
    """HQ (issue 7): roll closed days up for the dashboard."""
    with unit():
        analytics.roll_up(at)
    return "dashboard: closed days rolled up"


def refresh_segments(at: datetime) -> str:
    """Segments and ROI, once a day (the job runs often; it recomputes when 20 h have passed)."""
    computed = segments.segments_computed_at()
    if computed is not None and at - computed <= timedelta(hours=20):
        return "segments and ROI: fresh"
    with unit():
        segments.refresh_all(at)
    return "segments and ROI: recomputed"


def budget_alerts(at: datetime) -> str:
    with unit():
        return f"budget alerts: {send_due_alerts(at, mailer_for(current_app.config))} emailed"


def credit_checkins(at: datetime) -> str:
    """Queued check-ins (MALL_CHECKIN_MODE=queue): credit the ledger in batches."""
    client = app_redis()
    if client is None:
        return "check-ins: credited at once (no Redis)"
    with unit():  # commits per batch; an error rolls the open batch back (its entries are read again)
        credited = burst.credit_pending(client, at, zone=current_settings().timezone, rewards=current_settings().tasks)
    return f"check-ins: {credited} credited from the queue"


def reconcile_checkins(at: datetime) -> str:
    """Today's and yesterday's check-ins Redis recorded that the database has not: queued again."""
    client = app_redis()
    if client is None or not current_settings().checkin_queued:
        # Only queued check-ins keep Redis's side; warming it for synchronous ones would
        # leave it stale if the mode changed mid-day.
        return "check-ins: nothing to reconcile (check-ins are credited at once)"
    return f"check-ins: {burst.reconcile(client, at, zone=current_settings().timezone)} re-queued by the reconcile"


# name -> (function, how often beat sends it, in seconds). `flask mall jobs` runs them in this order.
JOBS = {
    "expire_holds": (expire_holds, 30),
    "allocate_presales": (allocate_presales, 60),
    "expire_presale_offers": (expire_presale_offers, 60),
    "retry_refunds": (retry_refunds, 60),
    "expire_points": (expire_points, 300),
    "release_pending_points": (release_pending_points, 300),
    "settle_clawbacks": (settle_clawbacks, 300),
    "review_tiers": (review_member_tiers, 3600),
    "expiry_reminders": (expiry_reminders, 3600),
    "coupon_reminders": (coupon_reminders, 3600),
    "expire_wallet": (expire_wallet, 60),
    "send_emails": (send_emails, 15),
    "resync_admission": (resync_admission, 60),
    "credit_checkins": (credit_checkins, 1),
    "reconcile_checkins": (reconcile_checkins, 300),
    "close_games": (close_games, 60),
    "roll_up_dashboard": (roll_up_dashboard, 600),
    "refresh_segments": (refresh_segments, 3600),
    "budget_alerts": (budget_alerts, 300),
}


CHECKIN_QUEUE = "mall.checkins"


def run_all(at: datetime | None = None):
    """`flask mall jobs`: every job once, in order; yields each job's line."""
    at = at or now()
    for fn, _every in JOBS.values():
        yield fn(at)


def celery_for(app: Flask) -> Celery:
    """A Celery app for this Flask app: Redis (MALL_BROKER_URL, else REDIS_URL) as the broker,
    one task per job named mall.<job>, each run inside the app context, and the beat schedule."""
    broker = app.config.get("MALL_BROKER_URL") or app.config.get("REDIS_URL")
    if not broker:
        raise RuntimeError("Celery needs a broker: set REDIS_URL (or MALL_BROKER_URL).")
    celery = Celery(app.import_name, broker=broker, set_as_current=False)
    celery.conf.update(
        task_ignore_result=True,
        task_acks_late=True,              # a worker killed mid-task leaves it for another (jobs are idempotent)
        worker_prefetch_multiplier=1,     # several workers share a burst instead of one hoarding it
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 600},
        task_default_queue="mall",
        # Check-in credits have their own queue, so a long job (segments) never delays them:
        # run `-Q mall,mall.checkins` on small deployments, a dedicated worker on large ones.
        task_routes={"mall.credit_checkins": {"queue": CHECKIN_QUEUE}},
        timezone="UTC",
        # RedBeat keeps the schedule and its one-beat lock in Redis; the braces keep its keys
        # in one Redis Cluster slot.
        redbeat_redis_url=broker,
        redbeat_key_prefix="{mall:beat}:",
        redbeat_lock_timeout=60,
        beat_schedule={f"mall.{name}": {"task": f"mall.{name}", "schedule": float(every),
                                        "options": {"expires": max(every, 5)}}  # a missed tick is not queued up
                       for name, (_fn, every) in JOBS.items()},
    )

    class AppTask(celery.Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery.Task = AppTask
    for name, (fn, _every) in JOBS.items():
        celery.task(name=f"mall.{name}", shared=False)(_job_task(fn))
    app.extensions["mall.celery"] = celery
    return celery


def _job_task(fn):
    def task():
        return fn(now())
    task.__name__ = task.__qualname__ = fn.__name__
    task.__doc__ = fn.__doc__
    return task
