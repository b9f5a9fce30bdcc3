"""My wallet, HQ issuing a coupon and the counter's coupon card (issue 13): phone-first
pages in both languages, with empty states, the QR and short code, and clear refusals."""
import pytest
from sqlalchemy import select

from mall.accounts.models import AuditEntry
from mall.budgets.services import set_programme_budget
from mall.extensions import db
from mall.instore.models import StoreStaff
from mall.wallet.issue import issue
from mall.wallet.models import WalletItem
from tests.factories import PASSWORD, make_category, make_user
from tests.instore_world import make_store, make_world
from tests.wallet_world import make_spec


@pytest.fixture
def member(app, clock):
    user = make_user(clock.now(), login="wallet@example.com")
    db.session.commit()
    return user


def test_an_empty_wallet_says_how_to_fill_it(member, auth, client):
    auth.login("wallet@example.com", PASSWORD)
    page = client.get("/wallet").get_data(as_text=True)
    assert "No coupons or red packets to use yet" in page
    assert 'href="/wallet"' in page  # the member nav links here


def test_a_coupon_shows_its_conditions_expiry_qr_and_short_code(member, auth, client, clock):
    make_category("fresh", "Fresh food")
    item = issue(member.id, make_spec(clock.now(), categories=("fresh",)), source="game", source_ref="p1",
                 now=clock.now())
    db.session.commit()
    auth.login("wallet@example.com", PASSWORD)
    listing = client.get("/wallet").get_data(as_text=True)
    assert "¥20 off" in listing and "Available (1)" in listing
    page = client.get(f"/wallet/{item.id}").get_data(as_text=True)
    assert "<svg" in page and item.short_code in page
    assert "Spend ¥100, save ¥20." in page and "Only on: Fresh food." in page
    assert "Use by" in page
    client.post("/locale", data={"locale": "zh_Hans", "next": "/"})
    zh = client.get(f"/wallet/{item.id}").get_data(as_text=True)
    assert "满" in zh or "使用" in zh


def test_another_members_coupon_is_not_found(member, auth, client, clock):
    other = make_user(clock.now())
    item = issue(other.id, make_spec(clock.now()), source="game", source_ref="p2", now=clock.now())
    db.session.commit()
    auth.login("wallet@example.com", PASSWORD)
    assert client.get(f"/wallet/{item.id}").status_code == 404


def test_hq_issues_a_coupon_to_a_member_audited(member, auth, client, clock):
    make_user(clock.now(), role="hq", login="boss@example.com")
    spec = make_spec(clock.now(), name="Welcome back")
    db.session.commit()
    auth.login("boss@example.com", PASSWORD)
    assert "Welcome back" in client.get("/hq/wallet/issue").get_data(as_text=True)
    response = client.post("/hq/wallet/issue", data={"member": "wallet@example.com", "spec_id": spec.id,
                                                      "reason": "Apology for a late order", "key": "k-1"})
    assert response.status_code == 302
    item = db.session.scalar(select(WalletItem))
    assert (item.account_id, item.source) == (member.id, "hq")
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "wallet_item_issued")).reason \
        == "Apology for a late order"
    # The same submit again issues nothing more.
    client.post("/hq/wallet/issue", data={"member": "wallet@example.com", "spec_id": spec.id,
                                          "reason": "Apology for a late order", "key": "k-1"})
    assert len(db.session.scalars(select(WalletItem)).all()) == 1


def test_the_counter_checks_then_uses_a_coupon_by_short_code(app, auth, client, clock):
    world = make_world(clock.now())
    make_category("fresh", "Fresh food")
    item = issue(world.member_id, make_spec(clock.now(), kind="amount", value_minor=500), source="game",
                 source_ref="c1", now=clock.now())
    db.session.commit()
    auth.login("staff@example.com", PASSWORD)
    client.post("/counter/purchases", data={"store": world.store_id, "receipt_no": "C-1", "amount": "30.00"})
    form = {"store": world.store_id, "receipt_no": "C-1", "code": item.short_code.lower()}
    checked = client.post("/counter/coupons", data={**form, "action": "check"}).get_data(as_text=True)
    assert "takes ¥5 off" in checked
    used = client.post("/counter/coupons", data={**form, "action": "spend"})
    assert used.status_code == 200 and "Coupon used" in used.get_data(as_text=True)
    again = client.post("/counter/coupons", data={**form, "receipt_no": "C-2", "action": "spend"})
    assert again.status_code == 422  # no such receipt
    assert db.session.get(WalletItem, item.id).state == "used"


def test_the_counter_refuses_a_store_the_staff_member_is_not_bound_to(app, auth, client, clock):
    make_world(clock.now())
    other = make_store("SH-009", "Elsewhere")
    assert not db.session.scalar(select(StoreStaff).where(StoreStaff.store_id == other.id))
    db.session.commit()
    auth.login("staff@example.com", PASSWORD)
    response = client.post("/counter/coupons", data={"store": other.id, "receipt_no": "X", "code": "ABCDEFGH",
                                                      "action": "check"})
    assert response.status_code == 422


def test_hq_is_refused_clearly_when_the_coupon_budget_is_used_up_and_nothing_is_written(member, auth, client,
                                                                                          clock):
    hq = make_user(clock.now(), role="hq", login="boss2@example.com")
    set_programme_budget("campaign", "coupons", "Coupons", 1_000, "refuse", actor_id=hq.id, now=clock.now())
    spec = make_spec(clock.now(), name="Too dear")  # ¥20 = 2,000 points, over the 1,000 budget
    db.session.commit()
    auth.login("boss2@example.com", PASSWORD)
    response = client.post("/hq/wallet/issue", data={"member": "wallet@example.com", "spec_id": spec.id,
                                                      "reason": "goodwill", "key": "k-2"})
    assert response.status_code == 422
    assert "budget for these coupons is used up" in response.get_data(as_text=True)
    assert db.session.scalars(select(WalletItem)).all() == []
