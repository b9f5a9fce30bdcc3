"""Demo data for the wallet, loaded by `flask mall demo` after the catalogue (idempotent):
the "Spend ¥100, save ¥10" catalogue item sells a 满减 coupon for points (diamond@example.com
buys one: mall/demo.py places the order, and it lands in their wallet); silver@example.com got
a "20% off fresh food" and a "¥5 off, no minimum" coupon from HQ (charged to the "coupons"
programme budget)."""
from datetime import datetime, timedelta

from sqlalchemy import select

from ..accounts import services as accounts
from ..catalog.models import Category
from ..extensions import db
from .issue import issue
from .models import CouponSpec, ItemSource

SILVER = "silver@example.com"


def _spec(name: str, **fields) -> CouponSpec:
    spec = db.session.scalar(select(CouponSpec).where(CouponSpec.name == name))
    if spec is None:
        spec = CouponSpec(name=name, **fields)
        db.session.add(spec)
        db.session.flush()
    return spec


def load_wallet_demo(now: datetime, coupon_item_id: int) -> list[tuple[str, str, str]]:
    created = now - timedelta(days=30)
    _spec("Spend ¥100, save ¥10", name_zh="满100减10", kind="threshold", threshold_minor=10_000,
                   value_minor=1_000, valid_days=30, item_id=coupon_item_id, per_member_limit=5, created_at=created)
    fresh = _spec("20% off fresh food, up to ¥30", name_zh="生鲜8折，最多减30元", kind="percent", percent=20,
                  cap_minor=3_000, valid_days=14, created_at=created)
    fresh.categories = list(db.session.scalars(select(Category).where(Category.slug == "fresh")))
    five = _spec("¥5 off, no minimum", name_zh="无门槛5元", kind="amount", value_minor=500, valid_days=7,
                 created_at=created)
    silver = accounts.find_by_identifier(SILVER)
    # Fixed source refs: a second run finds these coupons instead of issuing others.
    issue(silver.id, fresh, source=ItemSource.HQ.value, source_ref="demo:silver-fresh", now=now - timedelta(days=1))
    issue(silver.id, five, source=ItemSource.HQ.value, source_ref="demo:silver-five", now=now - timedelta(days=5))
    db.session.flush()
    return [("member", SILVER, "Two coupons in My wallet from HQ (20% off fresh food; ¥5 off, expiring soon); "
                               "diamond@example.com bought a 满减 coupon with points")]
