"""Engagement under concurrency, on real PostgreSQL and Redis: a double-tapped check-in
earns once, many tasks at once never pass the daily cap, the same news told by many
workers is one notification, and two delivery runs send each email once."""
import threading

from sqlalchemy import func, select

from mall import settings
from mall.engagement import tasks
from mall.errors import LockUnavailable
from mall.extensions import db
from mall.notifications.delivery import deliver_pending
from mall.notifications.models import Notification
from mall.notifications.services import notify
from mall.audit import run_audit
from mall.points.models import LedgerEntry
from tests.concurrency import race
from tests.factories import make_tiers, make_user


def _race(app, n, work):
    """What work(i) returned in each of n threads started together, or the refusal's name."""
    outcomes = race(app, n, work, returns=True)
    db.session.expire_all()
    return outcomes


def _task_points(member_id):
    return db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
        LedgerEntry.member_id == member_id, LedgerEntry.source == "task"))


def test_ten_taps_on_check_in_at_once_check_in_once(pg_app, clock):
    make_tiers()
    member_id = make_user(clock.now()).id
    db.session.commit()
    outcomes = _race(pg_app, 10, lambda i: tasks.check_in(member_id, clock.now()) and "ok")
    assert outcomes.count("ok") == 1
    assert set(outcomes) <= {"ok", "AlreadyCheckedIn", LockUnavailable.__name__}
    assert _task_points(member_id) == 5
    assert not [f for f in run_audit() if f.violations]


def test_many_tasks_finishing_at_once_never_pass_the_daily_cap(pg_app, clock):
    pg_app.config.update(MALL_TASK_DAILY_CAP=50)
    settings.reload(pg_app)
    make_tiers()
    member_id = make_user(clock.now()).id
    db.session.commit()

    def grant(i):
        return tasks.grant_task_points(member_id, 20, reason="profile", key=f"race:{i}", now=clock.now()).granted

    granted = _race(pg_app, 8, grant)
    assert sum(g for g in granted if isinstance(g, int)) == _task_points(member_id) == 50
    assert not [f for f in run_audit() if f.violations]


def test_the_same_news_from_ten_workers_is_one_notification(pg_app, clock):
    make_tiers()
    member_id = make_user(clock.now()).id
    db.session.commit()
    _race(pg_app, 10, lambda i: notify(member_id, "order_status", "order:1:ready_for_pickup",
                                       {"order": "A1", "status": "ready"}, clock.now()) and "ok")
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 1


class CountingMailer:
    def __init__(self):
        self.sent, self.lock = [], threading.Lock()

    def send(self, message):
        with self.lock:
            self.sent.append(message["To"])


def test_two_delivery_runs_at_once_send_each_email_once(pg_app, clock):
    make_tiers()
    members = [make_user(clock.now()) for _ in range(5)]
    for n, member in enumerate(members):
        notify(member.id, "order_status", f"order:{n}:ready_for_pickup", {"order": f"A{n}", "status": "ready"},
               clock.now())
    db.session.commit()
    mailer = CountingMailer()
    counts = _race(pg_app, 2, lambda i: deliver_pending(clock.now(), mailer))
    assert sorted(mailer.sent) == sorted(m.email for m in members)
    assert sum(counts) == 5
    assert {n.email_state for n in db.session.scalars(select(Notification))} == {"sent"}


def test_a_referral_claimed_with_an_overlong_device_cookie_is_no_server_error(pg_app, clock):
    """A forged 100-character mall_device cookie is no device (origin.request_origin): the
    claim is judged without one instead of failing on MemberDevice's String(64)."""
    from mall.engagement.models import MemberDevice, Referral
    from tests.factories import PASSWORD

    make_tiers()
    friend = make_user(clock.now(), login="friend@example.com")
    make_user(clock.now(), login="newcomer@example.com")
    db.session.commit()
    client = pg_app.test_client()
    client.post("/login", data={"identifier": "newcomer@example.com", "password": PASSWORD})
    client.set_cookie("mall_device", "x" * 100)
    response = client.post("/tasks/referral", data={"code": friend.member_code})
    assert response.status_code == 302  # accepted, with no device known
    db.session.expire_all()
    assert db.session.scalar(select(Referral.device_id)) is None
    assert db.session.scalar(select(func.count()).select_from(MemberDevice)) == 0
