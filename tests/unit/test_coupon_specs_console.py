"""A merchandiser defines a coupon on the console's item form (kind "coupon"): the item's
CouponSpec is created and edited with it, in the item's history; a coupon item can't be
published without one; a member who buys it gets a wallet coupon with the spec's terms, and
editing the spec later leaves that coupon's terms alone."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from mall.catalog.models import Category, Item, ItemChange
from mall.checkout.orders import place_order
from mall.checkout.quotes import LineRequest
from mall.extensions import db
from mall.inventory.services import receive_stock
from mall.wallet.models import CouponSpec, WalletItem
from mall.wallet.specs import spec_for_item
from tests.factories import PASSWORD, give_points, make_category, make_user

ARGS = dict(hold_minutes=10, card_payments=False, points_per_unit=100)


@pytest.fixture
def merch(tiers, clock, client):
    user = make_user(clock.now(), role="merchandiser", login="merch@example.com")
    make_category("home", "Home")
    make_category("fresh", "Fresh")
    db.session.commit()
    client.post("/login", data={"identifier": "merch@example.com", "password": PASSWORD})
    return user


def _form(**changes):
    home = db.session.scalar(select(Category.id).where(Category.slug == "home"))
    form = {"sku": "CPN-1", "name": "Spend ¥100, save ¥10", "name_zh": "满100减10", "description": "A coupon.",
            "category_id": str(home), "kind": "coupon", "min_tier_id": "0", "points_price": "300",
            "plans-0-kind": "points", "plans-1-kind": "", "plans-2-kind": "",
            "coupon_kind": "threshold", "coupon_value": "10", "coupon_threshold": "100",
            "coupon_valid_days": "30", "coupon_active": "y"}
    form.update(changes)
    return form


def _spec(sku="CPN-1") -> CouponSpec:
    item_id = db.session.scalar(select(Item.id).where(Item.sku == sku))
    db.session.expire_all()
    return spec_for_item(item_id)


def _counts():
    return (db.session.scalar(select(func.count()).select_from(Item)),
            db.session.scalar(select(func.count()).select_from(CouponSpec)))


@pytest.mark.parametrize("changes, expected", [
    ({}, dict(kind="threshold", value_minor=1_000, threshold_minor=10_000, percent=None, cap_minor=None,
              valid_days=30, valid_until=None)),
    ({"coupon_kind": "percent", "coupon_value": "", "coupon_threshold": "", "coupon_percent": "20",
      "coupon_cap": "30"},
     dict(kind="percent", value_minor=None, threshold_minor=0, percent=20, cap_minor=3_000, valid_days=30)),
    ({"coupon_kind": "amount", "coupon_value": "5.50", "coupon_threshold": "", "coupon_valid_days": "",
      "coupon_valid_from": "2030-01-01T00:00", "coupon_valid_until": "2030-02-01T00:00"},
     # Typed in the shop's zone (Asia/Shanghai, UTC+8), kept as UTC.
     dict(kind="amount", value_minor=550, threshold_minor=0, valid_days=None,
          valid_from=datetime(2029, 12, 31, 16, tzinfo=timezone.utc),
          valid_until=datetime(2030, 1, 31, 16, tzinfo=timezone.utc))),
])
def test_a_merchandiser_defines_each_kind_of_coupon_and_a_member_redeems_it(client, merch, clock, changes, expected):
    fresh = db.session.scalar(select(Category.id).where(Category.slug == "fresh"))
    response = client.post("/console/items/new", data=_form(**changes, coupon_categories=str(fresh),
                                                            coupon_stacks_with=["red_packet", "amount"],
                                                            coupon_limit="3"))
    assert response.status_code == 302
    spec = _spec()
    assert {k: getattr(spec, k) for k in expected} == expected
    assert (spec.name, spec.name_zh, spec.active, spec.per_member_limit) == ("Spend ¥100, save ¥10", "满100减10",
                                                                           True, 3)
    assert [c.id for c in spec.categories] == [fresh] and spec.stacks_with == "amount,red_packet"
    page = client.get(f"/console/items/{spec.item_id}").get_data(as_text=True)
    assert f'<option selected value="{expected["kind"]}">' in page  # the form shows the saved coupon
    # A member redeems it for points: a wallet coupon with the spec's terms.
    coupon = _buy(client, clock, spec.item_id)
    terms = ("kind", "value_minor", "percent", "cap_minor", "threshold_minor", "stacks_with")
    assert {k: getattr(coupon, k) for k in terms} == {k: getattr(spec, k) for k in terms}
    assert coupon.category_ids == [fresh] and coupon.spec_id == spec.id
    assert coupon.expires_at == (spec.valid_until or clock.now() + timedelta(days=spec.valid_days or 0))


def _buy(client, clock, item_id) -> WalletItem:
    client.post(f"/console/items/{item_id}/publish", data={"publish": "y"})
    receive_stock(item_id, 10, reference="T", reason="test stock", now=clock.now())
    member = make_user(clock.now())
    give_points(member.id, 5_000, clock.now())
    db.session.commit()
    plan_id = db.session.get(Item, item_id).plans[0].id
    order = place_order(member.id, [LineRequest(item_id, plan_id, 1)], key=f"buy-{member.id}", now=clock.now(),
                        **ARGS)
    db.session.commit()
    assert order.status == "fulfilled"
    return db.session.scalar(select(WalletItem).where(WalletItem.account_id == member.id))


@pytest.mark.parametrize("changes, message", [
    ({"coupon_kind": ""}, "Choose the kind of coupon."),
    ({"coupon_kind": "free_delivery"}, "Not a valid choice"),
    ({"coupon_value": "0"}, "The value off must be above zero."),
    ({"coupon_threshold": "5"}, "The threshold must be at least the value off."),
    ({"coupon_kind": "percent", "coupon_percent": "100"}, "The percent off must be between 1 and 99."),
    ({"coupon_kind": "percent", "coupon_percent": ""}, "The percent off must be between 1 and 99."),
    ({"coupon_valid_days": "0"}, "Between 1 and 3650 days."),
    ({"coupon_valid_days": "3651"}, "Between 1 and 3650 days."),
    ({"coupon_valid_days": ""}, "Give either a number of days from issue or an end date, not both."),
    ({"coupon_valid_until": "2030-01-01T00:00"}, "Give either a number of days from issue or an end date, not both."),
    ({"coupon_valid_days": "", "coupon_valid_from": "2030-02-01T00:00", "coupon_valid_until": "2030-01-01T00:00"},
     "The validity must end after it starts."),
    ({"coupon_categories": "99999"}, "is not a valid choice for this field."),
    ({"coupon_value": "abc"}, "Enter an amount like 9.90."),
])
def test_an_inconsistent_coupon_is_refused_beside_its_field_and_nothing_is_written(client, merch, changes, message):
    before = _counts()
    response = client.post("/console/items/new", data=_form(**changes))
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert _counts() == before


def test_the_coupon_form_speaks_chinese(client, merch):
    response = client.post("/console/items/new", data=_form(coupon_threshold="5"),
                           headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert response.status_code == 422 and "使用门槛不能低于减免金额。" in response.get_data(as_text=True)


def test_a_coupon_item_without_its_coupon_is_not_published(client, merch, clock):
    item = Item(sku="BARE-1", name="Bare coupon", description="", kind="coupon", points_price=100,
                category_id=db.session.scalar(select(Category.id)), published=False, created_at=clock.now())
    db.session.add(item)
    db.session.commit()
    response = client.post(f"/console/items/{item.id}/publish", data={"publish": "y"}, follow_redirects=True)
    assert "Define the coupon (its kind, value and validity) before publishing this item." in response.get_data(
        as_text=True)
    db.session.expire_all()
    assert db.session.get(Item, item.id).published is False
    client.post("/console/items/new", data=_form(sku="CPN-2"))
    spec = _spec("CPN-2")
    client.post(f"/console/items/{spec.item_id}/publish", data={"publish": "y"})
    db.session.expire_all()
    assert db.session.get(Item, spec.item_id).published is True


def test_a_member_who_buys_the_coupon_gets_its_terms_and_a_later_edit_changes_only_new_coupons(client, merch, clock):
    assert client.post("/console/items/new", data=_form(coupon_limit="2")).status_code == 302
    spec = _spec()
    item_id = spec.item_id
    client.post(f"/console/items/{item_id}/publish", data={"publish": "y"})
    receive_stock(item_id, 10, reference="T", reason="test stock", now=clock.now())
    member = make_user(clock.now(), login="buyer@example.com")
    give_points(member.id, 5_000, clock.now())
    db.session.commit()
    plan_id = db.session.get(Item, item_id).plans[0].id
    order = place_order(member.id, [LineRequest(item_id, plan_id, 1)], key="buy-1", now=clock.now(), **ARGS)
    db.session.commit()
    assert order.status == "fulfilled"
    coupon = db.session.scalar(select(WalletItem).where(WalletItem.account_id == member.id))
    assert (coupon.spec_id, coupon.kind, coupon.value_minor, coupon.threshold_minor) == (spec.id, "threshold", 1_000,
                                                                                         10_000)
    assert coupon.expires_at == clock.now() + timedelta(days=30) and coupon.source_ref == f"order:{order.id}"

    edited = client.post(f"/console/items/{item_id}", data=_form(coupon_value="20", coupon_threshold="200",
                                                                 coupon_valid_days="7", coupon_limit="2"))
    assert edited.status_code == 302
    spec = _spec()
    assert (spec.value_minor, spec.threshold_minor, spec.valid_days) == (2_000, 20_000, 7)
    assert db.session.scalar(select(func.count()).select_from(CouponSpec)) == 1  # one per item, updated
    db.session.refresh(coupon)
    assert (coupon.value_minor, coupon.threshold_minor) == (1_000, 10_000)  # its own terms, as issued
    change = db.session.scalar(select(ItemChange).where(ItemChange.item_id == item_id, ItemChange.action == "coupon")
                               .order_by(ItemChange.id.desc()))
    assert change.before == {"coupon_value_minor": 1_000, "coupon_threshold_minor": 10_000, "coupon_valid_days": 30}
    assert change.after == {"coupon_value_minor": 2_000, "coupon_threshold_minor": 20_000, "coupon_valid_days": 7}
    history = client.get(f"/console/items/{item_id}/history")
    assert history.status_code == 200
