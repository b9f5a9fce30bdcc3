"""Demo data for the wallet, loaded by `flask mall demo` after the catalogue (idempotent):
the "Spend ¥100, save ¥10" catalogue item sells a 满减 coupon for points (diamond@example.com
buys one: mall/demo.py places the order, and it lands in their wallet), and the ¥10, ¥50 and
¥200 store vouchers sell money-off coupons; silver@example.com got
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


# The store vouchers the catalogue sells for points (VOU-01, -02, -04): money off any purchase,
# at the till or in the mall, no minimum. sku -> (name, name_zh, value in minor units)
STORE_VOUCHERS = {"VOU-01": ("¥10 store voucher", "10 元店铺券", 1_000),
                  "VOU-02": ("¥50 store voucher", "50 元店铺券", 5_000),
                  "VOU-04": ("¥200 store voucher", "200 元店铺券", 20_000)}


def load_wallet_demo(now: datetime, coupon_items: dict[str, int]) -> list[tuple[str, str, str]]:
    """`coupon_items`: the catalogue's coupon items by SKU (VOU-05 and the store vouchers)."""
    created = now - timedelta(days=30)
    _spec("Spend ¥100, save ¥10", name_zh="满100减10", kind="threshold", threshold_minor=10_000,
          value_minor=1_000, valid_days=30, item_id=coupon_items["VOU-05"], per_member_limit=5, created_at=created)
    for sku, (name, name_zh, value) in STORE_VOUCHERS.items():
        _spec(name, name_zh=name_zh, kind="amount", value_minor=value, valid_days=90, item_id=coupon_items[sku],
              created_at=created)
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
