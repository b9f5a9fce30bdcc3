"""Two real Celery workers (separate processes, on PostgreSQL and Redis) on the same due work:
200 expired holds and 60 due emails, every task sent twice so both workers walk the same
lists at once. Each hold is released once and each email sent once, and the audit holds."""
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mall.audit import run_audit
from mall.checkout import orders as order_service
from mall.checkout.models import Order, OrderEvent
from mall.checkout.quotes import LineRequest
from mall.extensions import db
from mall.inventory.models import StockLevel
from mall.notifications.models import Notification
from mall.notifications.services import notify
from mall.points.models import PointsAccount
from mall.worker import celery_for
from tests.factories import give_points, make_item, make_tiers, make_user
from tests.services import redis_url

ROOT = Path(__file__).resolve().parents[2]
ARGS = dict(hold_minutes=10, card_payments=False, points_per_unit=100)


def _worker(name: str, env: dict, log: Path) -> subprocess.Popen:
    celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
    return subprocess.Popen(
        [celery, "-A", "worker:celery", "worker", "--pool=solo", "-Q", "mall", "-n", f"{name}@%h", "--loglevel=INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def workers(pg_app, pg_schema, tmp_path):
    env = {**os.environ, "DATABASE_URL": pg_schema, "REDIS_URL": redis_url(), "SECRET_KEY": "worker-test",
           "MALL_ENV": "production", "MALL_MAIL_BACKEND": "console", "PYTHONPATH": str(ROOT)}
    env.pop("STRIPE_SECRET_KEY", None)
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    procs = [_worker(f"w{n}", env, log) for n, log in enumerate(logs, 1)]
    yield logs
    for proc in procs:
        proc.kill()  # the work is checked; nothing of theirs needs a graceful stop
    for proc in procs:
        proc.wait(10)


def _wait_ready(logs, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if all("ready." in log.read_text() for log in logs):
            return
        time.sleep(0.3)
    raise AssertionError("workers did not start: " + " | ".join(log.read_text()[-2000:] for log in logs))


def _done(logs, task):
    """The lines each worker logged for `task` succeeding."""
    return [re.findall(rf"Task {re.escape(task)}\[[^\]]+\] succeeded in [\d.]+s: '([^']*)'", log.read_text())
            for log in logs]


def test_two_celery_workers_release_each_expired_hold_and_send_each_email_once(pg_app, clock, workers):
    clock.set(datetime.now(timezone.utc) - timedelta(hours=1))  # the workers run on the real clock
    make_tiers()
    item = make_item(clock.now(), points=2000, stock=200, plans=[("points_cash", 1000, 990, None)])
    members = [make_user(clock.now()) for _ in range(20)]
    for m in members:
        give_points(m.id, 20_000, clock.now())
    for n in range(200):
        order_service.place_order(members[n % 20].id, [LineRequest(item.id, item.plans[1].id, 1)], key=f"h{n}",
                                  now=clock.now(), **ARGS)
    for n in range(60):
        notify(members[n % 20].id, "order_status", f"order:{n}:ready_for_pickup", {"order": f"A{n}", "status": "ready"},
               clock.now())
    db.session.commit()
    assert db.session.get(StockLevel, item.id).reserved == 200

    _wait_ready(workers)
    celery = celery_for(pg_app)
    for _ in range(2):  # both workers on the same due lists at once
        celery.send_task("mall.expire_holds")
        celery.send_task("mall.send_emails")
    deadline = time.time() + 45
    while time.time() < deadline and any(sum(len(lines) for lines in _done(workers, task)) < 2
                                         for task in ("mall.expire_holds", "mall.send_emails")):
        time.sleep(0.3)

    expired = [int(m) for lines in _done(workers, "mall.expire_holds") for line in lines
               for m in re.findall(r"(\d+) expired", line)]
    sent = [int(m) for lines in _done(workers, "mall.send_emails") for line in lines for m in re.findall(r"(\d+) sent", line)]
    assert len(expired) == 2 and sum(expired) == 200, expired
    assert sum(sent) >= 60, sent
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Order).where(Order.status == "expired")) == 200
    assert db.session.scalar(select(func.count()).select_from(OrderEvent).where(OrderEvent.kind == "expired")) == 200
    level = db.session.get(StockLevel, item.id)
    assert (level.reserved, level.sold) == (0, 0)
    assert db.session.scalar(select(func.sum(PointsAccount.balance))) == 20 * 20_000
    seeded = db.session.execute(select(Notification.email_state, Notification.email_attempts).where(
        Notification.key.like("order:%:ready_for_pickup"))).all()
    assert len(seeded) == 60 and set(seeded) == {("sent", 1)}
    # the expiries' own notices queue more emails: none was ever claimed twice
    assert db.session.scalar(select(func.max(Notification.email_attempts))) == 1
    assert not [f for f in run_audit() if f.violations]
