"""Issuing coupons and red packets into a member's wallet (issue 13): values copied at issue,
idempotent per intent, per-member limits, and HQ issues held against a budget."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from mall.budgets.models import BudgetMonth
from mall.budgets.services import set_programme_budget
from mall.extensions import db
from mall.notifications.models import Notification
from mall.notifications.reminders import send_coupon_reminders
from mall.wallet.jobs import expire_due
from mall.wallet.models import WalletItem
from mall.wallet.issue import Budget, CouponBudgetExhausted, CouponLimitReached, issue, issue_red_packet
from tests.factories import make_user
from tests.wallet_world import make_spec


@pytest.fixture
def member(app, clock):
    return make_user(clock.now())


def test_issue_copies_the_spec_so_later_edits_do_not_change_the_coupon(member, clock):
    now = clock.now()
    spec = make_spec(now, categories=("fresh",))
    item = issue(member.id, spec, source="hq", source_ref="t1", now=now)
    spec.value_minor = 3_000
    db.session.flush()
    assert (item.kind, item.value_minor, item.threshold_minor, item.state) == ("threshold", 2_000, 10_000, "available")
    assert item.category_ids == [spec.categories[0].id]
    assert item.expires_at == now + timedelta(days=30)
    assert len(item.code) >= 20 and len(item.short_code) == 8


def test_issue_is_idempotent_per_source_ref_and_seq(member, clock):
    now = clock.now()
    spec = make_spec(now)
    first = issue(member.id, spec, source="points", source_ref="order:1", now=now)
    assert issue(member.id, spec, source="points", source_ref="order:1", now=now).id == first.id
    assert issue(member.id, spec, source="points", source_ref="order:1", seq=2, now=now).id != first.id


def test_per_member_limit_refuses_a_further_coupon(member, clock):
    now = clock.now()
    spec = make_spec(now, per_member_limit=1)
    issue(member.id, spec, source="hq", source_ref="a", now=now)
    with pytest.raises(CouponLimitReached):
        issue(member.id, spec, source="hq", source_ref="b", now=now)


def test_red_packet_is_a_no_threshold_amount(member, clock):
    now = clock.now()
    packet = issue_red_packet(member.id, 368, source_ref="claim:9", valid_days=7, now=now)
    assert (packet.kind, packet.value_minor, packet.spec_id, packet.source) == ("red_packet", 368, None, "campaign")


def test_hq_issue_is_charged_to_the_budget_and_refused_when_it_is_used_up(member, clock):
    now = clock.now()
    hq = make_user(now, role="hq")
    set_programme_budget("campaign", "coupons", "Coupons", 3_000, "hold", actor_id=hq.id, now=now)
    spec = make_spec(now)  # face value ¥20 = 2,000 points at 1 fen a point
    issue(member.id, spec, source="hq", source_ref="x1", now=now, budget=Budget(target="coupons"))
    assert db.session.query(BudgetMonth).one().used_points == 2_000
    with pytest.raises(CouponBudgetExhausted):
        issue(member.id, spec, source="hq", source_ref="x2", now=now, budget=Budget(target="coupons"))
    assert db.session.query(BudgetMonth).one().used_points == 2_000


def test_the_expiry_job_moves_available_items_past_their_expiry_to_expired(member, clock):
    now = clock.now()
    soon = issue(member.id, make_spec(now, valid_days=1), source="game", source_ref="e1", now=now)
    later = issue(member.id, make_spec(now, valid_days=10), source="game", source_ref="e2", now=now)
    assert expire_due(now + timedelta(days=2)) == 1
    db.session.expire_all()
    assert (db.session.get(WalletItem, soon.id).state, db.session.get(WalletItem, later.id).state) == \
        ("expired", "available")


def test_a_coupon_expiring_soon_is_reminded_once(member, clock):
    now = clock.now()
    item = issue(member.id, make_spec(now, valid_days=5), source="game", source_ref="r1", now=now)
    assert send_coupon_reminders(now) == 0          # 5 days left: not yet (3 days before)
    assert send_coupon_reminders(now + timedelta(days=3)) == 1
    assert send_coupon_reminders(now + timedelta(days=4)) == 0
    note = db.session.scalar(select(Notification).where(Notification.member_id == member.id))
    assert (note.kind, note.key, note.params["days"]) == ("expiry_reminder", f"wallet:{item.id}", 2)


@pytest.mark.parametrize("spec_id", ["99999999999999999999", "12x", "", "-1"])
def test_hqs_issue_form_refuses_a_coupon_choice_that_is_not_one_and_issues_nothing(app, clock, client, auth, member,
                                                                                    spec_id):
    make_user(clock.now(), role="hq", login="hq-issue@example.com")
    make_spec(clock.now(), kind="amount", value_minor=500)
    db.session.commit()
    auth.login("hq-issue@example.com")
    response = client.post("/hq/wallet/issue", data={"member": member.email, "spec_id": spec_id,
                                                     "reason": "goodwill", "key": "huge-1"})
    assert response.status_code == 422
    assert db.session.scalar(select(WalletItem)) is None


def test_hqs_issue_without_the_pages_key_is_refused_so_a_double_tap_cant_issue_twice(app, clock, client, auth,
                                                                                      member):
    make_user(clock.now(), role="hq", login="hq-key@example.com")
    spec = make_spec(clock.now(), kind="amount", value_minor=500)
    db.session.commit()
    auth.login("hq-key@example.com")
    assert 'name="key"' in client.get("/hq/wallet/issue").get_data(as_text=True)
    response = client.post("/hq/wallet/issue", data={"member": member.email, "spec_id": spec.id,
                                                     "reason": "goodwill"})
    assert response.status_code == 422 and "reload it" in response.get_data(as_text=True)
    assert db.session.scalar(select(WalletItem)) is None
