"""A member opens the receipt behind a statement line (/purchases/<id>): the store, the time
in the shop's zone, each line, the coupons used at the till, what was paid, the points and
how they were worked out, pending points, refunds, and "Question this line". Anyone else's
receipt is no such page."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from mall import settings
from mall.catalog.models import Category
from mall.engagement.rulebook import RuleDraft, save_rule
from mall.extensions import db
from mall.instore import coupons, purchases
from mall.instore.categories import save_purchase_category
from mall.instore.models import PurchaseLine, PurchaseRefund, Store
from mall.instore.purchases import LineInput, RefundLine
from mall.instore.receipts import purchase_id_of
from mall.points.ledger import credit_points, spend_points
from mall.points.models import LedgerEntry
from mall.points.statement import account_balance
from mall.wallet.issue import issue
from tests.factories import PASSWORD, make_item, make_user
from tests.instore_world import make_lined_world
from tests.receipt_world import EARN, LINES, WED_10, main_text as _text
from tests.wallet_world import make_spec

@pytest.fixture
def world(app, clock):
    clock.set(WED_10)
    return make_lined_world(clock.now())


@pytest.fixture
def member(world, auth):
    auth.login("member@example.com", PASSWORD)
    return world.member_id


def _earn(world, receipt, lines=LINES, clock=None, amount=None):
    purchase, _ = purchases.earn_for_member(world.store_id, receipt, amount or sum(l.amount_minor for l in lines),
                                            world.member_id, now=clock.now(), lines=lines, **EARN)
    db.session.commit()
    return purchase


def test_the_statement_line_opens_the_receipt_with_store_time_lines_and_points(client, world, member, clock):
    save_rule(RuleDraft(kind="time_slot", name="Fresh morning", name_zh="生鲜早市", value=200, weekdays=(3,),
                        minute_from=8 * 60, minute_to=12 * 60, category_slug="fresh"), actor_id=None, now=clock.now())
    db.session.commit()
    purchase = _earn(world, "T-100", clock=clock)

    statement = client.get("/points/statement").get_data(as_text=True)
    assert f'<a class="line-receipt-link" href="/purchases/{purchase.id}">Receipt no. T-100</a>' in statement

    page = client.get(f"/purchases/{purchase.id}")
    assert page.status_code == 200
    text = _text(page)
    assert "Receipt no. T-100" in text and "Store 1, Jing'an" in text
    assert "3 Jun 2026, 10:05" in text  # the shop's zone, 24-hour clock
    assert "Bok choy Fresh food · Quantity 2" in text and "¥86" in text
    assert "Wok Kitchen · Quantity 1" in text and "¥200" in text
    assert "Subtotal ¥286" in text and "Total paid ¥286" in text
    assert "+372 points" in text
    # base 86 + 200, the fresh morning doubling the fresh line only (the Silver tier's ×1 adds nothing)
    assert "Base: 1 point per ¥1 ¥86 · Fresh food +86 Fresh morning × 2 Fresh food +86" in text
    assert "Base: 1 point per ¥1 ¥200 · Kitchen +200" in text and "tier" not in text
    html = page.get_data(as_text=True)
    assert f'href="/appeals/new?entry={purchase.earn_entry_id}"' in html and "Question this line" in html
    assert "Refunds" not in text and "Pending until" not in text
    for heading in ("Items", "Points"):
        assert re.search(rf"<h2 id=\"receipt-[a-z]+\">{heading}</h2>", html)


def test_pending_points_say_until_when(app, client, world, member, clock):
    app.config["MALL_RETURN_WINDOW_DAYS"] = 7
    settings.reload(app)
    try:
        purchase = _earn(world, "T-101", clock=clock)
    finally:
        app.config["MALL_RETURN_WINDOW_DAYS"] = 0
        settings.reload(app)
    text = _text(client.get(f"/purchases/{purchase.id}"))
    assert "Pending until Jun 10, 2026: you can use them once the return window closes." in text


def test_a_coupon_used_at_the_till_shows_its_discount_and_the_total_paid(client, world, member, clock):
    spec = make_spec(clock.now(), name="Spend 50 save 10", threshold_minor=5_000, value_minor=1_000)
    item = issue(world.member_id, spec, source="hq", source_ref="receipt-test", now=clock.now())
    purchase = _earn(world, "T-102", clock=clock)
    assert coupons.spend_coupon(world.store_id, "T-102", item.code, now=clock.now()).ok
    db.session.commit()
    text = _text(client.get(f"/purchases/{purchase.id}"))
    assert "Subtotal ¥286" in text
    assert "Coupon (Spend 50 save 10) −¥10" in text
    assert "Total paid ¥276" in text


def test_a_partial_refund_shows_which_lines_and_the_points_taken_back(client, world, member, clock):
    purchase = _earn(world, "T-103", clock=clock)   # 286 points, 86 of them on the bok choy
    clock.advance(hours=2)
    purchases.refund_purchase(world.store_id, "T-103", now=clock.now(), lines=[RefundLine(1, 1)], refund_no="RF-1")
    db.session.commit()
    page = client.get(f"/purchases/{purchase.id}")
    text = _text(page)
    assert "Some items refunded" in text and "3 Jun 2026, 12:05" in text
    assert "Bok choy × 1: ¥43 · 43 points taken back" in text
    assert "1 refunded (¥43)" in text
    assert "Refunded −¥43" in text and "43 points taken back for refunds." in text
    refund_entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.source == "receipt-refund"))
    assert f'href="/appeals/new?entry={refund_entry.id}"' in page.get_data(as_text=True)
    assert "Refunded in full" not in text
    # the refund's statement line opens the same receipt
    assert purchase_id_of(refund_entry) == purchase.id
    assert f'href="/purchases/{purchase.id}"' in client.get("/points/statement?kind=earned").get_data(as_text=True)


def test_a_full_refund_of_spent_points_says_what_is_still_owed(client, world, member, clock):
    purchase = _earn(world, "T-104", clock=clock)
    spend_points(world.member_id, account_balance(world.member_id), reason="redeem", source="test", key="spend-it", now=clock.now())
    purchases.refund_purchase(world.store_id, "T-104", now=clock.now())
    db.session.commit()
    text = _text(client.get(f"/purchases/{purchase.id}"))
    assert "Refunded in full" in text and "Everything left refunded" in text
    assert "Bok choy × 2: ¥86" in text and "Wok × 1: ¥200" in text
    assert "286 points taken back for refunds." in text
    assert "of these points were already spent: they are taken from your next points." in text


def test_a_purchase_sent_without_lines_says_only_its_total_is_known(client, world, member, clock):
    purchase, _ = purchases.earn_for_member(world.store_id, "OLD-1", 12_800, world.member_id, now=clock.now(), **EARN)
    db.session.commit()
    text = _text(client.get(f"/purchases/{purchase.id}"))
    assert "The till sent this purchase without its items, so only the total is known." in text
    assert "Total paid ¥128" in text and "+128 points" in text
    # a purchase from before lines were kept at all
    db.session.query(PurchaseLine).filter_by(purchase_id=purchase.id).delete()
    db.session.commit()
    assert "only the total is known" in _text(client.get(f"/purchases/{purchase.id}"))


def test_a_purchase_too_small_to_earn_says_so_and_offers_no_appeal(client, world, member, clock):
    purchase = _earn(world, "T-105", lines=[LineInput(50, category="fresh", name="Chilli")], clock=clock)
    page = client.get(f"/purchases/{purchase.id}")
    assert page.status_code == 200
    assert "This purchase earned no points." in _text(page)
    assert "Question this line" not in page.get_data(as_text=True)


def test_another_members_receipt_and_an_unclaimed_one_are_a_404(client, world, auth, clock):
    purchase = _earn(world, "T-106", clock=clock)
    unclaimed, _ = purchases.create_purchase(world.store_id, "T-107", 1_000, now=clock.now(), code_hours=24)
    make_user(clock.now(), login="other@example.com")
    db.session.commit()
    auth.login("other@example.com", PASSWORD)
    for purchase_id in (purchase.id, unclaimed.id, 999_999):
        response = client.get(f"/purchases/{purchase_id}")
        assert response.status_code == 404
        assert "We couldn’t find that page" in response.get_data(as_text=True)
        assert "T-106" not in response.get_data(as_text=True)


def test_the_receipt_in_chinese_names_the_catalogue_item_category_and_store_in_chinese(client, world, member, clock):
    item = make_item(clock.now(), name="Bamboo cutting board", points=1000)
    db.session.scalar(select(Category).where(Category.slug == "kitchen")).name_zh = "厨房"
    db.session.get(Store, world.store_id).name_zh = "静安 1 号店"
    purchase = _earn(world, "T-108", lines=[LineInput(9_900, category="kitchen", sku=item.sku, name="Bamboo board")],
                     clock=clock)
    client.post("/locale", data={"locale": "zh_Hans", "next": "/"})
    text = _text(client.get(f"/purchases/{purchase.id}"))
    assert item.name_zh in text and "Bamboo board" not in text
    assert "2026年6月3日 10:05" in text
    assert "厨房 · 数量 1" in text and "静安 1 号店" in text and "Kitchen" not in text
    runs = [r for r in re.findall(r"\b[A-Za-z][a-z]{2,}(?:\s+[A-Za-z][a-z]{1,}){1,}\b", text)]
    assert runs == []  # no English left untranslated


def test_the_appeal_form_for_a_purchase_line_links_back_to_its_receipt(client, world, member, clock):
    purchase = _earn(world, "T-109", clock=clock)
    page = client.get(f"/appeals/new?entry={purchase.earn_entry_id}").get_data(as_text=True)
    assert f'href="/purchases/{purchase.id}"' in page


def test_only_purchase_entries_name_a_purchase(world, clock):
    assert purchase_id_of(LedgerEntry(source="receipt", idempotency_key="purchase:12")) == 12
    assert purchase_id_of(LedgerEntry(source="receipt-refund", idempotency_key="purchase:12:RF-1")) == 12
    assert purchase_id_of(LedgerEntry(source="bonus", idempotency_key="receipt:purchase:7")) == 7
    assert purchase_id_of(LedgerEntry(source="clawback", idempotency_key="clawback:1:0", detail={"purchase_id": 3})) == 3
    assert purchase_id_of(LedgerEntry(source="pos", idempotency_key="purchase:12")) is None
    assert purchase_id_of(LedgerEntry(source="receipt", idempotency_key="order:12")) is None
    assert purchase_id_of(LedgerEntry(source="clawback", idempotency_key="x", detail={"purchase_id": "3"})) is None


def test_a_line_that_never_earns_says_so_beside_the_lines_that_did(client, world, member, clock):
    save_purchase_category("gift-cards", "Gift cards", name_zh="礼品卡", excluded=True)
    db.session.commit()
    purchase = _earn(world, "T-110", lines=[LineInput(10_000, category="gift-cards", name="Gift card"),
                                            LineInput(5_000, category="kitchen", name="Pan")], clock=clock)
    text = _text(client.get(f"/purchases/{purchase.id}"))
    assert "Gift card Gift cards · Quantity 1 Does not earn points ¥100" in text
    assert "Pan Kitchen · Quantity 1 50 points ¥50" in text
    assert "Not earning ¥100 · Gift cards" in text and "Base: 1 point per ¥1 ¥50 · Kitchen +50" in text
    assert "+50 points" in text and "Total paid ¥150" in text


def test_a_full_refund_from_before_refunds_were_recorded_one_by_one_still_shows(client, world, member, clock):
    purchase = _earn(world, "T-111", clock=clock)
    purchases.refund_purchase(world.store_id, "T-111", now=clock.now())
    db.session.query(PurchaseRefund).filter_by(purchase_id=purchase.id).delete()  # as an older database holds it
    db.session.commit()
    text = _text(client.get(f"/purchases/{purchase.id}"))
    assert "Refunded in full" in text and "Everything left refunded" in text
    assert "Bok choy × 2: ¥86 · 86 points taken back" in text and "Wok × 1: ¥200 · 200 points taken back" in text
    assert "286 points taken back for refunds." in text


def test_an_approved_bonus_without_a_receipt_number_still_links_its_receipt(app, client, world, member, clock):
    purchase = _earn(world, "T-112", clock=clock)
    credit_points(world.member_id, 30, reason="purchase_bonus", source="bonus", key=f"receipt:purchase:{purchase.id}",
                  expires_at=clock.now() + timedelta(days=365), now=clock.now())
    db.session.commit()
    statement = client.get("/points/statement").get_data(as_text=True)
    assert f'<a class="line-receipt-link" href="/purchases/{purchase.id}">See the receipt</a>' in statement
