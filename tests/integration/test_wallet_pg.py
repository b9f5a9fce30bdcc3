"""Coupons under concurrency on real PostgreSQL and Redis (issue 13): the same coupon shown
at two tills at the same moment is spent once; the same receipt sent twice at once gets the
first answer twice; the audit stays clean."""
from sqlalchemy import select

from mall.audit import run_audit
from mall.extensions import db
from mall.wallet.issue import CouponLimitReached, issue
from mall.wallet.models import WalletItem
from tests.concurrency import race
from tests.factories import make_category
from tests.instore_world import make_world
from tests.wallet_world import make_spec

LINES = [{"sku": "VEG-1", "name": "Bok choy", "category": "fresh", "quantity": 5, "amount_minor": 12_000}]


def _setup(clock, receipts):
    world = make_world(clock.now())
    make_category("fresh", "Fresh food")
    item = issue(world.member_id, make_spec(clock.now(), categories=("fresh",)), source="hq", source_ref="pg",
                 now=clock.now())
    db.session.commit()
    return world, item.code


def _purchase(app, world, receipt):
    response = app.test_client().post("/api/v1/purchases", json={"receipt_no": receipt, "amount_minor": 12_000,
                                                                 "lines": LINES},
                                      headers={"Authorization": f"Bearer {world.api_key}"})
    assert response.status_code == 201


def _spend(app, world, receipt, code):
    return app.test_client().post(f"/api/v1/purchases/{receipt}/coupons", json={"code": code},
                                  headers={"Authorization": f"Bearer {world.api_key}"}).status_code


def test_the_same_coupon_at_two_tills_at_once_is_spent_once(pg_app, clock):
    world, code = _setup(clock, 2)
    for receipt in ("TILL1-1", "TILL2-1"):
        _purchase(pg_app, world, receipt)
    statuses = race(pg_app, 2, lambda i: _spend(pg_app, world, ("TILL1-1", "TILL2-1")[i], code), returns=True)
    assert sorted(statuses) == [201, 409], statuses
    db.session.expire_all()
    item = db.session.scalar(select(WalletItem))
    assert (item.state, item.discount_minor) == ("used", 2_000)
    assert [f.check for f in run_audit() if f.violations] == []


def test_eight_tills_racing_for_one_coupon_spend_it_once(pg_app, clock):
    world, code = _setup(clock, 8)
    receipts = [f"R-{i}" for i in range(8)]
    for receipt in receipts:
        _purchase(pg_app, world, receipt)
    statuses = race(pg_app, 8, lambda i: _spend(pg_app, world, receipts[i], code), returns=True)
    assert sorted(statuses) == [201] + [409] * 7, statuses


def test_the_same_receipt_sent_twice_at_once_gets_one_spend_and_one_replay(pg_app, clock):
    world, code = _setup(clock, 1)
    _purchase(pg_app, world, "R-TWICE")
    statuses = race(pg_app, 2, lambda i: _spend(pg_app, world, "R-TWICE", code), returns=True)
    assert sorted(statuses) == [200, 201], statuses


def test_concurrent_issues_never_pass_a_per_member_limit(pg_app, clock):
    world = make_world(clock.now())
    spec_id = make_spec(clock.now(), per_member_limit=2, kind="amount", value_minor=100).id
    db.session.commit()
    outcomes = race(pg_app, 6, lambda i: issue(world.member_id, spec_id, source="game", source_ref=f"play:{i}",
                                              now=clock.now()), refusals=(CouponLimitReached,))
    assert sorted(outcomes) == ["CouponLimitReached"] * 4 + ["ok"] * 2, outcomes


def test_two_one_per_purchase_coupons_at_two_tills_on_one_receipt_take_off_one(pg_app, clock):
    """Each spend queues on the purchase's row, so the second sees the first in the stacking
    rules: two ¥50 coupons that stack with nothing can't both come off one ¥120 receipt."""
    world = make_world(clock.now())
    make_category("fresh", "Fresh food")
    codes = [issue(world.member_id, make_spec(clock.now(), kind="amount", value_minor=5_000, name=f"¥50 {n}"),
                   source="hq", source_ref=f"one-{n}", now=clock.now()).code for n in range(2)]
    db.session.commit()
    _purchase(pg_app, world, "R-ONE")
    statuses = race(pg_app, 2, lambda i: _spend(pg_app, world, "R-ONE", codes[i]), returns=True)
    assert sorted(statuses) == [201, 409], statuses
    db.session.expire_all()
    used = db.session.scalars(select(WalletItem).where(WalletItem.state == "used")).all()
    assert [item.discount_minor for item in used] == [5_000]
    assert [f.check for f in run_audit() if f.violations] == []
