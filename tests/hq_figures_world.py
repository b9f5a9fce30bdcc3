"""A small known world for the HQ dashboard's figures: the unit tests (SQLite) and the
integration tests (PostgreSQL: GROUPING SETS, timezone()) assert the same numbers on it.

The clock starts at 2026-06-01 09:00 UTC, 17:00 in the shop (Asia/Shanghai): the shop's
today is 1 June, which began at 31 May 16:00 UTC.
- 40 days ago, alice earned 1,000 points at North (home): issued before any 30-day period;
- at 31 May 15:59 UTC (23:59 on 31 May in the shop) bob earned 200 at South (fresh);
- at 31 May 16:01 UTC (00:01 on 1 June in the shop) bob earned 100 at South (kitchen), and
  a check-in credited 5 online;
- today alice redeemed 900 of her old points, bob's 100-point purchase was refunded (100
  taken back), and HQ gave bob a ¥5 coupon for "fresh" (named "Fresh food").
"""
from datetime import datetime, timedelta, timezone

from mall.extensions import db
from mall.instore.models import Store
from mall.points.ledger import claw_back, credit_points, spend_points
from mall.wallet.issue import issue
from tests.factories import make_category, make_user
from tests.wallet_world import make_spec

SHOP_DAY_START = datetime(2026, 5, 31, 16, 0, tzinfo=timezone.utc)  # 1 June, 00:00 in Shanghai


def _earn(member, points, key, at, store=None, category=None, reason="purchase"):
    return credit_points(member.id, points, reason=reason, source="pos", key=key, now=at,
                         expires_at=at + timedelta(days=365), store_id=store.id if store else None,
                         detail={"category": category} if category else {})


def make_world(now: datetime) -> dict:
    north = Store(code="N1", name="North Store", region="North")
    south = Store(code="S1", name="South Store", region="South")
    db.session.add_all([north, south])
    db.session.flush()
    hq = make_user(now, role="hq", login="hq@example.com")
    alice, bob = make_user(now, login="alice@example.com"), make_user(now, login="bob@example.com")
    _earn(alice, 1_000, "old", now - timedelta(days=40), north, "home")
    _earn(bob, 200, "late-night", SHOP_DAY_START - timedelta(minutes=1), south, "fresh")
    refunded = _earn(bob, 100, "after-midnight", SHOP_DAY_START + timedelta(minutes=1), south, "kitchen")
    _earn(bob, 5, "checkin", SHOP_DAY_START + timedelta(minutes=2), reason="checkin")
    spend_points(alice.id, 900, reason="redeem", source="order", key="o1", now=now, detail={"category": "home"})
    claw_back(bob.id, 100, reason="purchase_refund", source="pos", key="refund", now=now,
              first_entry_id=refunded.id, store_id=south.id)
    make_category("fresh", "Fresh food")
    spec = make_spec(now, kind="amount", value_minor=500, name="Fresh ¥5", categories=("fresh",))
    issue(bob.id, spec, source="hq", source_ref="figures", now=now)
    db.session.commit()
    return {"hq": hq, "north": north, "south": south, "alice": alice, "bob": bob}
