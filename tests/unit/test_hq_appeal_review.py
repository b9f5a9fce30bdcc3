"""HQ answering an appeal sees what the member saw (/hq/appeals/<id>): for a statement line
of a store purchase, the purchase's receipt (lines, categories, coupons, how the points were
worked out, refunds), the questioned line marked; for an order, its lines, points, cash and
timeline. Reading it writes nothing; only HQ may."""
import re

import pytest
from sqlalchemy import func, select

from mall.accounts.models import AuditEntry
from mall.appeals.services import raise_appeal
from mall.extensions import db
from mall.instore import coupons, purchases
from mall.instore.purchases import LineInput, RefundLine
from mall.points.ledger import spend_points
from mall.points.models import LedgerEntry
from mall.points.statement import account_balance
from mall.wallet.issue import issue
from tests.factories import PASSWORD, make_user
from tests.instore_world import make_lined_world
from tests.receipt_world import EARN, LINES, WED_10, main_text as _text
from tests.wallet_world import make_spec

@pytest.fixture
def world(app, clock):
    clock.set(WED_10)
    return make_lined_world(clock.now())


def _earn(world, clock, receipt="T-200"):
    purchase, _ = purchases.earn_for_member(world.store_id, receipt, 28_600, world.member_id, now=clock.now(),
                                            lines=LINES, **EARN)
    db.session.commit()
    return purchase


def _appeal(world, clock, *, entry_id=None, order_id=None, key="k1", reason="I bought 3 bok choy"):
    appeal = raise_appeal(world.member_id, entry_id=entry_id, order_id=order_id, reason=reason, key=key,
                          now=clock.now(), zone="Asia/Shanghai")
    db.session.commit()
    return appeal


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_hq_opens_a_purchase_lines_appeal_and_sees_the_receipt_the_member_saw(client, auth, world, clock):
    spec = make_spec(clock.now(), name="Spend 50 save 10", threshold_minor=5_000, value_minor=1_000)
    item = issue(world.member_id, spec, source="hq", source_ref="review-test", now=clock.now())
    purchase = _earn(world, clock)
    assert coupons.spend_coupon(world.store_id, "T-200", item.code, now=clock.now()).ok
    db.session.commit()
    appeal = _appeal(world, clock, entry_id=purchase.earn_entry_id)
    auth.login("hq@example.com", PASSWORD)

    queue = client.get("/hq/appeals").get_data(as_text=True)
    assert f'href="/hq/appeals/{appeal.id}"' in queue and "See what the member saw" in queue

    audited = _count(AuditEntry)
    page = client.get(f"/hq/appeals/{appeal.id}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    text = _text(page)
    assert "What the member saw: receipt no. T-200" in text and "Store 1, Jing'an" in text
    assert "3 Jun 2026, 10:05" in text
    assert "Bok choy Fresh food · Quantity 2" in text and "Wok Kitchen · Quantity 1" in text
    assert "Coupon (Spend 50 save 10) −¥10" in text and "Total paid ¥276" in text
    assert "Points +286 points Base: 1 point per ¥1 +286" in text
    assert "The member questions these points." in text and "I bought 3 bok choy" in text
    html = page.get_data(as_text=True)
    assert "/appeals/new" not in html  # the member's "Question this" links are not HQ's
    assert f'action="/hq/appeals/{appeal.id}?back=review"' in html  # answered right there
    # reading is not an action: nothing written, nothing audited
    assert _count(AuditEntry) == audited


def test_the_member_and_hq_see_the_same_receipt_body(client, auth, world, clock):
    purchase = _earn(world, clock)
    appeal = _appeal(world, clock, entry_id=purchase.earn_entry_id)
    auth.login("member@example.com", PASSWORD)
    member_text = _text(client.get(f"/purchases/{purchase.id}"))
    auth.logout()
    auth.login("hq@example.com", PASSWORD)
    hq_text = _text(client.get(f"/hq/appeals/{appeal.id}"))
    for part in ("Items Bok choy Fresh food · Quantity 2", "Subtotal ¥286 Total paid ¥286",
                 "Points +286 points Base: 1 point per ¥1 +286"):
        assert part in member_text and part in hq_text


def test_an_appealed_refund_shows_the_receipt_with_that_refund_marked(client, auth, world, clock):
    _earn(world, clock)
    clock.advance(hours=2)
    purchases.refund_purchase(world.store_id, "T-200", now=clock.now(), lines=[RefundLine(1, 1)], refund_no="RF-1")
    db.session.commit()
    refund_entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.source == "receipt-refund"))
    appeal = _appeal(world, clock, entry_id=refund_entry.id, reason="I returned one, not two")
    auth.login("hq@example.com", PASSWORD)
    text = _text(client.get(f"/hq/appeals/{appeal.id}"))
    assert "receipt no. T-200" in text and "Some items refunded" in text and "3 Jun 2026, 12:05" in text
    assert "Bok choy × 1: ¥43 · 43 points taken back" in text and "1 refunded (¥43)" in text
    assert "The member questions this refund." in text
    assert "The member questions these points." not in text  # the earn line is not the one questioned


def test_points_already_spent_are_owed_by_the_member_in_the_third_person(client, auth, world, clock):
    purchase = _earn(world, clock)
    spend_points(world.member_id, account_balance(world.member_id), reason="redeem", source="test", key="spend",
                 now=clock.now())
    purchases.refund_purchase(world.store_id, "T-200", now=clock.now())
    db.session.commit()
    appeal = _appeal(world, clock, entry_id=purchase.earn_entry_id)
    auth.login("hq@example.com", PASSWORD)
    text = _text(client.get(f"/hq/appeals/{appeal.id}"))
    assert "Refunded in full" in text and "286 points taken back for refunds." in text
    assert "already spent: they are taken from the member's next points." in text
    assert "your next points" not in text


def test_an_order_appeal_shows_its_lines_points_cash_and_timeline(client, auth, world, clock):
    from mall.checkout.models import Order
    order = db.session.get(Order, world.order_id)
    appeal = _appeal(world, clock, order_id=order.id, reason="Never got it")
    auth.login("hq@example.com", PASSWORD)
    page = client.get(f"/hq/appeals/{appeal.id}")
    assert page.status_code == 200
    text = _text(page)
    assert f"What the member saw: order {order.number}" in text and "Never got it" in text
    line = order.lines[0]
    assert re.search(rf"Items {line.item_name} × {line.quantity} {line.points:,} points", text), text
    assert f"Points {order.points_total:,}" in text and "Cash ¥" in text
    html = page.get_data(as_text=True)
    assert '<ol class="timeline">' in html and html.count("<time datetime=") == len(order.events)
    assert "Order placed, stock held and points taken by the member" in text and "by you" not in text
    assert "/appeals/new" not in html  # the member's "Question this order" is not HQ's
    assert f'href="/hq/orders?number={order.number}"' in html


def test_a_statement_line_that_is_no_purchase_says_so_and_a_resolved_appeal_shows_its_answer(client, auth, world, clock):
    from mall.points.ledger import credit_points
    entry = credit_points(world.member_id, 50, reason="check-in", source="checkin", key="c1", now=clock.now(),
                          expires_at=clock.now().replace(year=2027))
    db.session.commit()
    appeal = _appeal(world, clock, entry_id=entry.id, reason="Should be 100")
    auth.login("hq@example.com", PASSWORD)
    text = _text(client.get(f"/hq/appeals/{appeal.id}"))
    assert "not from a store purchase" in text and "receipt no." not in text
    assert client.post(f"/hq/appeals/{appeal.id}", data={"reply": "50 is right."}).status_code == 302
    page = client.get(f"/hq/appeals/{appeal.id}")
    assert page.status_code == 200
    text = _text(page)
    assert "Answered" in text and "50 is right." in text and "Resolve" not in text


@pytest.mark.parametrize("login", ["member@example.com", "staff@example.com", "merch-review@example.com"])
def test_only_hq_may_open_an_appeal_review(client, auth, world, clock, login):
    purchase = _earn(world, clock)
    appeal = _appeal(world, clock, entry_id=purchase.earn_entry_id)
    make_user(clock.now(), role="merchandiser", login="merch-review@example.com")
    db.session.commit()
    auth.login(login, PASSWORD)
    page = client.get(f"/hq/appeals/{appeal.id}")
    assert page.status_code == 403
    assert "Bok choy" not in page.get_data(as_text=True)


def test_no_such_appeal_is_a_404_for_hq(client, auth, world):
    auth.login("hq@example.com", PASSWORD)
    assert client.get("/hq/appeals/999999").status_code == 404
    assert client.get("/hq/appeals/99999999999999999999").status_code == 404


def test_hq_reads_the_receipt_in_chinese(client, auth, world, clock):
    purchase = _earn(world, clock)
    appeal = _appeal(world, clock, entry_id=purchase.earn_entry_id)
    auth.login("hq@example.com", PASSWORD)
    client.post("/locale", data={"locale": "zh_Hans", "next": "/"})
    text = _text(client.get(f"/hq/appeals/{appeal.id}"))
    assert "会员看到的内容：小票号 T-200" in text and "会员对这笔积分提出了疑问。" in text
    assert "小计 ¥286" in text
    assert "What the member saw" not in text and "The member questions" not in text
    assert "查看会员看到的内容" in _text(client.get("/hq/appeals"))


def test_the_review_pages_have_no_untranslated_english_in_chinese(client, auth, world, clock):
    from mall.catalog.models import Category
    from tests.unit.test_member_language import ALLOWED, ENGLISH_RUN, _visible_text
    for slug, zh in (("fresh", "生鲜"), ("kitchen", "厨房")):  # what people typed is theirs to translate
        db.session.scalar(select(Category).where(Category.slug == slug)).name_zh = zh
    purchase, _ = purchases.earn_for_member(world.store_id, "T-200", 28_600, world.member_id, now=clock.now(),
                                            lines=[LineInput(8_600, category="fresh", name="青菜", quantity=2),
                                                   LineInput(20_000, category="kitchen", name="炒锅")], **EARN)
    db.session.commit()
    clock.advance(hours=1)
    purchases.refund_purchase(world.store_id, "T-200", now=clock.now(), lines=[RefundLine(1, 1)], refund_no="RF-1")
    db.session.commit()
    on_receipt = _appeal(world, clock, entry_id=purchase.earn_entry_id, reason="不对")
    on_order = _appeal(world, clock, order_id=world.order_id, key="k2", reason="不对")
    auth.login("hq@example.com", PASSWORD)
    client.post("/locale", data={"locale": "zh_Hans", "next": "/"})
    found = {}
    for appeal in (on_receipt, on_order):
        page = client.get(f"/hq/appeals/{appeal.id}")
        assert page.status_code == 200
        text = _visible_text(page.get_data(as_text=True))
        runs = [r for r in ENGLISH_RUN.findall(text) if not set(r.split()) <= ALLOWED]
        if runs:
            found[appeal.id] = runs
    assert not found, found


def test_a_refused_answer_from_the_review_page_comes_back_to_it_with_the_receipt(client, auth, world, clock):
    purchase = _earn(world, clock)
    appeal = _appeal(world, clock, entry_id=purchase.earn_entry_id)
    auth.login("hq@example.com", PASSWORD)
    entries = _count(LedgerEntry)
    refused = client.post(f"/hq/appeals/{appeal.id}?back=review", data={"reply": "", "points": "5"})
    assert refused.status_code == 422
    text = _text(refused)
    assert "Write a reply to the member." in text and "receipt no. T-200" in text and "Bok choy" in text
    assert _count(LedgerEntry) == entries  # nothing credited

    assert client.post(f"/hq/appeals/{appeal.id}?back=review", data={"reply": "Right as it is."}).status_code == 302
    again = client.post(f"/hq/appeals/{appeal.id}?back=review", data={"reply": "Twice"})
    assert again.status_code == 422
    text = _text(again)
    assert "That appeal was already resolved." in text and "Right as it is." in text and "Resolve" not in text
