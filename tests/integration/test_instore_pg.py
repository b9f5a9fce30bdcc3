"""In store under concurrency, on real PostgreSQL and Redis: two scans at the same instant
redeem once, two members racing for a receipt get one credit, a POS retry storm earns once,
clawbacks settle once, and rate limits are shared through Redis by every worker."""

from sqlalchemy import func, select

from mall import create_app
from mall.checkout.models import Order, OrderEvent
from mall.extensions import db
from mall.instore import pickups, purchases
from mall.instore.clawbacks import settle_due_clawbacks
from mall.instore.codes import receipt_token
from mall.instore.errors import InstoreError, ReceiptClaimedByOther
from mall.instore.models import Clawback, Pickup, Purchase
from mall.audit import run_audit
from mall.points.ledger import spend_points
from mall.points.models import LedgerEntry
from mall.points.statement import account_balance
from tests.conftest import isolate_requests
from tests.factories import make_user
from tests.instore_world import make_world
from tests.concurrency import race

EARN = dict(minor_per_point=100)


def _race(app, n, work):
    return race(app, n, work, refusals=(InstoreError,))


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _audit_clean() -> bool:
    return [f for f in run_audit() if f.violations] == []


def test_ten_counters_scanning_the_same_code_at_once_hand_over_exactly_once(pg_app, clock):
    world = make_world(clock.now())
    outcomes = _race(pg_app, 10, lambda i: pickups.hand_over(
        world.code if i % 2 else world.qr_text, store_id=world.store_id, now=clock.now(), pickup_days=14,
        staff_id=world.staff_id))
    db.session.expire_all()
    assert outcomes.count("ok") == 1, outcomes
    assert outcomes.count("AlreadyPickedUp") == 9, outcomes
    assert _count(Pickup) == 1
    assert db.session.get(Order, world.order_id).status == "picked_up"
    assert db.session.scalar(select(func.count()).select_from(OrderEvent).where(
        OrderEvent.order_id == world.order_id, OrderEvent.kind == "picked_up")) == 1


def test_two_tills_redeeming_through_the_api_at_once_get_one_201_and_one_409(pg_app, clock):
    world = make_world(clock.now())
    statuses = race(pg_app, 6, lambda i: pg_app.test_client().post(
        "/api/v1/pickups", json={"code": world.code},
        headers={"Authorization": f"Bearer {world.api_key}"}).status_code, returns=True)
    assert sorted(statuses) == [201, 409, 409, 409, 409, 409]
    db.session.expire_all()
    assert _count(Pickup) == 1


def test_eight_members_racing_for_one_receipt_one_is_credited(pg_app, clock):
    world = make_world(clock.now())
    members = [make_user(clock.now()).id for _ in range(8)]
    purchase, _ = purchases.create_purchase(world.store_id, "R-RACE", 30_000, now=clock.now(), code_hours=24)
    db.session.commit()
    token = receipt_token(purchase.id)
    outcomes = _race(pg_app, 8, lambda i: purchases.claim_receipt(token, members[i], now=clock.now(), **EARN))
    db.session.expire_all()
    assert outcomes.count("ok") == 1, outcomes
    assert outcomes.count(ReceiptClaimedByOther.__name__) == 7
    winner = members[outcomes.index("ok")]
    assert db.session.get(Purchase, purchase.id).member_id == winner
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.reason == "purchase")) == 1
    assert account_balance(winner) == 300
    assert _audit_clean()


def test_the_same_member_double_scanning_is_credited_once(pg_app, clock):
    world = make_world(clock.now())
    purchase, _ = purchases.create_purchase(world.store_id, "R-TWICE", 30_000, now=clock.now(), code_hours=24)
    db.session.commit()
    token = receipt_token(purchase.id)
    outcomes = _race(pg_app, 6, lambda i: purchases.claim_receipt(token, world.member_id, now=clock.now(), **EARN))
    assert outcomes == ["ok"] * 6
    db.session.expire_all()
    assert account_balance(world.member_id) == 4000 + 300


def test_a_pos_retry_storm_on_one_receipt_earns_once(pg_app, clock):
    world = make_world(clock.now())
    outcomes = _race(pg_app, 8, lambda i: purchases.earn_for_member(
        world.store_id, "R-STORM", 50_000, world.member_id, now=clock.now(), code_hours=24, **EARN))
    db.session.expire_all()
    assert outcomes == ["ok"] * 8, outcomes
    assert _count(Purchase) == 1
    assert account_balance(world.member_id) == 4000 + 500
    assert _audit_clean()


def test_refunds_and_settlements_racing_take_each_point_once(pg_app, clock):
    world = make_world(clock.now())
    member = make_user(clock.now())
    db.session.commit()
    purchases.earn_for_member(world.store_id, "R-BIG", 100_000, member.id, now=clock.now(), code_hours=24, **EARN)
    spend_points(member.id, 800, reason="redeem", source="test", key="s", now=clock.now())
    db.session.commit()
    outcomes = _race(pg_app, 4, lambda i: purchases.refund_purchase(world.store_id, "R-BIG", now=clock.now()))
    assert outcomes == ["ok"] * 4, outcomes
    db.session.expire_all()
    assert account_balance(member.id) == 0
    assert db.session.scalar(select(Clawback.points)) == 800

    purchases.earn_for_member(world.store_id, "R-NEXT", 30_000, member.id, now=clock.now(), code_hours=24, **EARN)
    db.session.commit()
    from tests.factories import give_points
    give_points(member.id, 1000, clock.now())
    db.session.commit()
    outcomes = _race(pg_app, 4, lambda i: settle_due_clawbacks(clock.now()))
    assert outcomes == ["ok"] * 4, outcomes
    db.session.expire_all()
    claw = db.session.scalar(select(Clawback))
    assert claw.settled == claw.points == 800
    assert account_balance(member.id) == 300 + 1000 - 800  # the later earns paid the 800 owed
    assert _audit_clean()


def test_rate_limits_live_in_redis_so_every_worker_shares_them(pg_app, clock):
    world = make_world(clock.now())
    pg_app.config["MALL_CODE_ENTRY_RATE_LIMIT"] = "3 per minute"

    # A second app on the same Redis stands for a second gunicorn worker.
    other = create_app(type("OtherWorker", (), {k: v for k, v in pg_app.config.items() if k.isupper()}),
                       clock=clock)
    isolate_requests(other)
    headers = {"Authorization": f"Bearer {world.api_key}"}
    first = [pg_app.test_client().post("/api/v1/pickups", json={"code": "1-AAAAAA"}, headers=headers).status_code
             for _ in range(2)]
    with other.app_context():
        second = [other.test_client().post("/api/v1/pickups", json={"code": "1-AAAAAA"},
                                           headers=headers).status_code for _ in range(2)]
    assert first == [422, 422] and second == [422, 429]
    assert list(pg_app.extensions["mall.redis"].scan_iter(match="*mall:rl*"))  # the counters are in Redis


def _lines():
    from tests.factories import make_category
    make_category("fresh", "Fresh food")
    make_category("kitchen", "Kitchen")
    return [purchases.LineInput(amount_minor=8_600, category="fresh", sku="VEG-001", quantity=2),
            purchases.LineInput(amount_minor=20_000, category="kitchen", sku="KIT-204")]


def test_a_receipt_with_lines_earned_twice_at_once_still_earns_once(pg_app, clock):
    world = make_world(clock.now())
    lines = _lines()
    db.session.commit()
    outcomes = _race(pg_app, 8, lambda i: purchases.earn_for_member(
        world.store_id, "R-LINES", 28_600, world.member_id, now=clock.now(), code_hours=24, lines=lines, **EARN))
    db.session.expire_all()
    assert outcomes == ["ok"] * 8, outcomes
    assert _count(Purchase) == 1
    assert account_balance(world.member_id) == 4000 + 286
    assert _audit_clean()


def test_the_same_partial_refund_sent_at_once_takes_its_points_back_once(pg_app, clock):
    world = make_world(clock.now())
    lines = _lines()
    db.session.commit()
    purchases.earn_for_member(world.store_id, "R-PART", 28_600, world.member_id, now=clock.now(), code_hours=24,
                              lines=lines, **EARN)
    db.session.commit()
    before = account_balance(world.member_id)
    outcomes = _race(pg_app, 6, lambda i: purchases.refund_purchase(
        world.store_id, "R-PART", now=clock.now(), refund_no="RF-1", lines=[purchases.RefundLine(1, 1)]))
    assert outcomes == ["ok"] * 6, outcomes
    db.session.expire_all()
    assert account_balance(world.member_id) == before - 43  # 86 × 1 ÷ 2
    assert _audit_clean()


def test_the_clawback_job_waits_for_the_account_row_before_locking_any_clawback(pg_app, clock):
    """A refund locks the member's account row, then their clawback row. The job must take
    them in the same order: while another transaction holds the account row, the job waits
    without holding the clawback row (else each would wait for the other: a deadlock)."""
    import threading
    import time

    from sqlalchemy import text

    from tests.factories import give_points

    world = make_world(clock.now())
    member = make_user(clock.now())
    db.session.commit()
    purchases.earn_for_member(world.store_id, "R-LOCK", 100_000, member.id, now=clock.now(), code_hours=24, **EARN)
    spend_points(member.id, 800, reason="redeem", source="test", key="s", now=clock.now())
    db.session.commit()
    purchases.refund_purchase(world.store_id, "R-LOCK", now=clock.now())  # 800 owed
    give_points(member.id, 1000, clock.now())
    db.session.commit()

    holder = db.engine.connect()  # a refund in flight: it holds the account row
    tx = holder.begin()
    holder.execute(text("SELECT 1 FROM points_accounts WHERE member_id = :m FOR UPDATE"), {"m": member.id})
    done = []

    def job():
        with pg_app.app_context():
            try:
                done.append(settle_due_clawbacks(clock.now()))
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - before the fix: a deadlock victim
                done.append(repr(exc)[:120])
            finally:
                db.session.remove()

    worker = threading.Thread(target=job)
    worker.start()
    try:
        for _ in range(100):  # until the job is waiting on a lock (a fresh look each time)
            with db.engine.connect() as probe:
                waiting = probe.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                             " AND datname = current_database()")).scalar()
            if waiting:
                break
            time.sleep(0.05)
        assert waiting, "the job did not wait for the account row"
        # The refund's next step, the clawback row, is free: the job holds nothing it needs.
        holder.execute(text("SET LOCAL lock_timeout = '1s'"))
        holder.execute(text("SELECT 1 FROM clawbacks WHERE member_id = :m FOR UPDATE"), {"m": member.id})
    finally:
        tx.rollback()
        holder.close()
        worker.join(30)
    assert done == [800]
    db.session.expire_all()
    assert db.session.scalar(select(Clawback.settled)) == 800
    assert _audit_clean()
