"""Receipt-QR earning and purchase refunds: one credit per receipt, bound to one member,
expiring; a refund after a spend records a clawback that later earnings settle, and the
balance never goes negative."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from mall.extensions import db
from mall.instore import purchases
from mall.instore.clawbacks import settle_due_clawbacks
from mall.instore.codes import receipt_token
from mall.instore.errors import (InvalidCode, PurchaseRefunded, ReceiptClaimedByOther, ReceiptExpired,
                                 ReceiptMismatch)
from mall.instore.models import Clawback
from mall.audit import run_audit
from mall.points.ledger import spend_points
from mall.points.models import LedgerEntry
from mall.points.statement import account_balance
from tests.factories import PASSWORD, give_points, make_category, make_user
from tests.instore_world import make_world

EARN = dict(minor_per_point=100)


@pytest.fixture
def world(app, clock):
    return make_world(clock.now())


def _login(client, login):
    assert client.post("/login", data={"identifier": login, "password": PASSWORD}).status_code == 302


def _purchase(world, clock, receipt="R-1001", amount=25_000):
    purchase, created = purchases.create_purchase(world.store_id, receipt, amount, now=clock.now(), code_hours=24,
                                                  created_by_id=world.staff_id)
    db.session.commit()
    return purchase


def _earns(member_id) -> list[LedgerEntry]:
    return list(db.session.scalars(select(LedgerEntry).where(LedgerEntry.member_id == member_id,
                                                             LedgerEntry.reason == "purchase")))


def _audit_clean() -> bool:
    return [f for f in run_audit() if f.violations] == []


def test_a_receipt_earns_once_for_the_member_who_scans_it(world, clock):
    purchase = _purchase(world, clock)
    first = purchases.claim_receipt(receipt_token(purchase.id), world.member_id, now=clock.now(), **EARN)
    db.session.commit()
    again = purchases.claim_receipt(receipt_token(purchase.id), world.member_id, now=clock.now(), **EARN)
    db.session.commit()
    assert (first.points, first.again) == (250, False)
    assert (again.points, again.again) == (250, True)
    assert len(_earns(world.member_id)) == 1
    assert account_balance(world.member_id) == 4000 + 250  # 5,000 given, 1,000 spent on the world's order
    assert _audit_clean()


def test_a_second_member_is_refused_a_claimed_receipt(world, clock):
    purchase = _purchase(world, clock)
    rival = make_user(clock.now(), login="rival@example.com")
    db.session.commit()
    purchases.claim_receipt(receipt_token(purchase.id), world.member_id, now=clock.now(), **EARN)
    db.session.commit()
    with pytest.raises(ReceiptClaimedByOther):
        purchases.claim_receipt(receipt_token(purchase.id), rival.id, now=clock.now(), **EARN)
    assert _earns(rival.id) == []


def test_an_expired_receipt_code_earns_nothing(world, clock):
    purchase = _purchase(world, clock)
    clock.advance(hours=24)
    with pytest.raises(ReceiptExpired):
        purchases.claim_receipt(receipt_token(purchase.id), world.member_id, now=clock.now(), **EARN)
    assert _earns(world.member_id) == []


def test_a_forged_or_tampered_receipt_token_is_refused(world, clock):
    purchase = _purchase(world, clock)
    token = receipt_token(purchase.id)
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "MQ.forged", "", "x" * 40):
        with pytest.raises(InvalidCode):
            purchases.claim_receipt(bad, world.member_id, now=clock.now(), **EARN)


def test_a_refunded_purchase_can_no_longer_be_claimed(world, clock):
    purchase = _purchase(world, clock)
    purchases.refund_purchase(world.store_id, "R-1001", now=clock.now())
    db.session.commit()
    with pytest.raises(PurchaseRefunded):
        purchases.claim_receipt(receipt_token(purchase.id), world.member_id, now=clock.now(), **EARN)


def test_the_same_receipt_number_with_another_amount_is_refused(world, clock):
    _purchase(world, clock, amount=25_000)
    with pytest.raises(ReceiptMismatch):
        purchases.create_purchase(world.store_id, "R-1001", 26_000, now=clock.now(), code_hours=24)
    again, created = purchases.create_purchase(world.store_id, " r-1001 ", 25_000, now=clock.now(), code_hours=24)
    assert created is False


def test_a_refund_before_any_spend_takes_the_points_back_from_their_own_lot(world, clock):
    purchase = _purchase(world, clock)
    purchases.claim_receipt(receipt_token(purchase.id), world.member_id, now=clock.now(), **EARN)
    db.session.commit()
    outcome = purchases.refund_purchase(world.store_id, "R-1001", now=clock.now())
    db.session.commit()
    assert (outcome.reversed_points, outcome.clawback_points) == (250, 0)
    assert account_balance(world.member_id) == 4000
    assert db.session.scalar(select(Clawback)) is None
    assert _audit_clean()


def test_a_refund_after_the_points_were_spent_records_a_clawback_that_later_earnings_settle(world, clock):
    member = make_user(clock.now(), login="spender@example.com")
    db.session.commit()
    purchase = _purchase(world, clock, amount=100_000)  # 1,000 points
    purchases.claim_receipt(receipt_token(purchase.id), member.id, now=clock.now(), **EARN)
    spend_points(member.id, 900, reason="redeem", source="test", key="spend-900", now=clock.now())
    db.session.commit()

    outcome = purchases.refund_purchase(world.store_id, "R-1001", now=clock.now())
    db.session.commit()
    assert (outcome.reversed_points, outcome.clawback_points) == (100, 900)
    assert account_balance(member.id) == 0  # never negative
    again = purchases.refund_purchase(world.store_id, "R-1001", now=clock.now())
    assert (again.reversed_points, again.clawback_points, again.again) == (100, 900, True)

    clock.advance(days=1)
    later = _purchase(world, clock, receipt="R-2002", amount=50_000)  # 500 points
    purchases.claim_receipt(receipt_token(later.id), member.id, now=clock.now(), **EARN)
    db.session.commit()
    claw = db.session.scalar(select(Clawback))
    assert (claw.points, claw.settled) == (900, 500)
    assert account_balance(member.id) == 0

    clock.advance(days=1)
    give_points(member.id, 1000, clock.now())  # e.g. a task bonus
    db.session.commit()
    assert settle_due_clawbacks(clock.now()) == 400
    db.session.commit()
    assert settle_due_clawbacks(clock.now()) == 0
    claw = db.session.scalar(select(Clawback))
    assert claw.settled == claw.points and claw.settled_at == clock.now()
    assert account_balance(member.id) == 600
    assert _audit_clean()


def test_statement_lines_explain_the_refund_and_the_clawback(client, world, clock):
    purchase = _purchase(world, clock, amount=100_000)
    purchases.claim_receipt(receipt_token(purchase.id), world.member_id, now=clock.now(), **EARN)
    spend_points(world.member_id, 4800, reason="redeem", source="test", key="spend-all", now=clock.now())
    purchases.refund_purchase(world.store_id, "R-1001", now=clock.now())
    db.session.commit()
    _login(client, "member@example.com")
    html = client.get("/points/statement").get_data(as_text=True)
    assert "Purchase refunded (receipt R-1001): 200 of its 1,000 points taken back" in html


def test_the_receipt_url_asks_for_a_login_then_credits_and_explains(client, world, clock):
    purchase = _purchase(world, clock)
    url = f"/r/{receipt_token(purchase.id)}"
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    login = client.post("/login", data={"identifier": "member@example.com", "password": PASSWORD,
                                        "next": url})
    assert login.headers["Location"].endswith(url)
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "+250 points" in html
    assert "(receipt R-1001)" in html  # the statement explanation, by the earning rules
    assert "4,250 points" in html
    again = client.get(url).get_data(as_text=True)
    assert "You already collected 250 points for this receipt." in again
    assert len(_earns(world.member_id)) == 1


def test_a_second_member_opening_the_url_gets_a_clear_reason(client, world, clock):
    purchase = _purchase(world, clock)
    purchases.claim_receipt(receipt_token(purchase.id), world.member_id, now=clock.now(), **EARN)
    make_user(clock.now(), login="rival@example.com")
    db.session.commit()
    _login(client, "rival@example.com")
    response = client.get(f"/r/{receipt_token(purchase.id)}")
    assert response.status_code == 409
    assert "already claimed by another member" in response.get_data(as_text=True)


def test_an_expired_url_says_so(client, world, clock):
    purchase = _purchase(world, clock)
    clock.advance(hours=25)
    _login(client, "member@example.com")
    response = client.get(f"/r/{receipt_token(purchase.id)}")
    assert response.status_code == 410 and "has expired" in response.get_data(as_text=True)


def test_the_counter_shows_a_scannable_receipt_qr(client, world):
    _login(client, "staff@example.com")
    response = client.post("/counter/purchases", data={"store": world.store_id, "receipt_no": "R-77",
                                                       "amount": "88.80"}, headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<svg" in html
    assert re.search(r'data-receipt-url>http://localhost/r/[\w.-]+<', html)
    assert "Receipt R-77 · ¥88.80" in html


def test_a_receipt_line_with_no_name_or_sku_shows_its_categorys_name_not_its_slug(client, world):
    make_category("fresh", "Fresh food").name_zh = "生鲜"
    make_category("kitchen", "Kitchen")
    db.session.commit()
    _login(client, "staff@example.com")
    response = client.post("/counter/purchases", data={
        "store": world.store_id, "receipt_no": "R-79", "amount": "100.00",
        "lines": "fresh, 60.00\nkitchen, 40.00, KIT-204"}, headers={"Accept-Language": "zh-CN"})
    lines = response.get_data(as_text=True).split('<ul class="lines small">')[1].split("</ul>")[0]
    assert response.status_code == 200 and "<li>生鲜 · ¥60</li>" in lines and "<li>KIT-204 · ¥40</li>" in lines


def test_the_counter_refuses_a_bad_amount_next_to_the_field(client, world):
    _login(client, "staff@example.com")
    response = client.post("/counter/purchases", data={"store": world.store_id, "receipt_no": "R-78",
                                                       "amount": "12.345"})
    assert response.status_code == 422
    assert 'id="amount-error"' in response.get_data(as_text=True)


def test_receipt_codes_expire_after_the_configured_hours(app, world, clock):
    purchase, _ = purchases.create_purchase(world.store_id, "R-9", 1000, now=clock.now(),
                                            code_hours=app.config["MALL_RECEIPT_CODE_HOURS"])
    assert purchase.expires_at - purchase.created_at == timedelta(hours=24)


def test_audit_catches_a_hand_over_or_a_clawback_edited_by_hand(app, world, clock):
    from sqlalchemy import text
    from mall.instore import pickups as pickup_service
    pickup_service.hand_over(world.code, store_id=world.store_id, now=clock.now(), pickup_days=14,
                             staff_id=world.staff_id)
    member = make_user(clock.now(), login="owes@example.com")
    db.session.commit()
    purchases.earn_for_member(world.store_id, "R-AUD", 100_000, member.id, now=clock.now(), code_hours=24, **EARN)
    spend_points(member.id, 1000, reason="redeem", source="test", key="all", now=clock.now())
    purchases.refund_purchase(world.store_id, "R-AUD", now=clock.now())
    db.session.commit()
    assert _audit_clean()
    db.session.execute(text("DELETE FROM pickups"))
    db.session.execute(text("UPDATE clawbacks SET settled = 10"))
    db.session.commit()
    failed = {f.check for f in run_audit() if f.violations}
    assert failed == {"picked-up orders have exactly one hand-over, and only they have one",
                      "each clawback's settled points equal its settlement lines"}
