"""Demo data for the wallet, loaded by `flask mall demo` after the catalogue (idempotent):
the "Spend ¥100, save ¥10" catalogue item sells a 满减 coupon for points; silver@example.com
buys one (mall/demo.py places the order; it lands in their wallet with its QR) and got a "20% off fresh food" coupon
from HQ; a ¥5 no-threshold coupon is ready for HQ to issue."""
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
    _spec("¥5 off, no minimum", name_zh="无门槛5元", kind="amount", value_minor=500, valid_days=7, created_at=created)
    silver = accounts.find_by_identifier(SILVER)
    # A fixed source ref: a second run finds this coupon instead of issuing another. (The
    # coupon silver bought with points comes from an order of the item: mall/demo.py.)
    issue(silver.id, fresh, source=ItemSource.HQ.value, source_ref="demo:silver-fresh", now=now - timedelta(days=1))
    db.session.flush()
    return [("member", SILVER, "Two coupons in My wallet (a 满减 bought with points, 20% off fresh food from HQ)")]
