"""Coupon specs for the wallet tests (issue 13)."""
from datetime import timedelta

from mall.extensions import db
from mall.wallet.models import CouponSpec
from tests.factories import make_category


def make_spec(now, *, kind="threshold", name="Spend 100 save 20", threshold_minor=10_000, value_minor=2_000,
              percent=None, cap_minor=None, valid_days=30, valid_until=None, categories=(), stacks_with="",
              per_member_limit=None, item_id=None, store_id=None, budget_target="coupons") -> CouponSpec:
    if kind in ("percent", "free_delivery"):
        value_minor = None
    if kind in ("amount", "free_delivery"):
        threshold_minor = 0
    spec = CouponSpec(name=name, name_zh=name, kind=kind, threshold_minor=threshold_minor, value_minor=value_minor,
                      percent=percent, cap_minor=cap_minor, valid_days=valid_days if valid_until is None else None,
                      valid_until=valid_until, stacks_with=stacks_with, per_member_limit=per_member_limit,
                      item_id=item_id, store_id=store_id, budget_target=budget_target, created_at=now - timedelta(days=1))
    spec.categories = [make_category(slug, slug.title()) for slug in categories]
    db.session.add(spec)
    db.session.flush()
    return spec
