"""A purchase's bonus held over budget follows its purchase: a refund forfeits it (HQ sees it
rejected, nothing is ever credited), and HQ's approval credits it pending until the
purchase's return window ends, as the purchase's own points are."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from mall.accounts.models import AuditEntry
from mall.budgets import services as budgets
from mall.budgets.models import BudgetMonth, DiscretionaryGrant
from mall.engagement.rulebook import RuleDraft, save_rule
from mall.errors import InsufficientPoints
from mall.extensions import db
from mall.instore import purchases
from mall.instore.codes import receipt_token
from mall.instore.purchases import LineInput, RefundLine
from mall.points.ledger import release_due_pending, spend_points
from mall.points.statement import balance
from tests.budget_world import clean_audit

EARN = dict(minor_per_point=100)


@pytest.fixture
def held_bonus(window, shop, clock):
    """A ¥1,000 purchase in a ×2.5 campaign, claimed when the store's budget can't cover its
    uplift: base 1,000 points pending, the 1,500 bonus held for HQ."""
    store, hq, member = shop
    save_rule(RuleDraft(kind="campaign", name="Spring x2.5", value=250, starts_at=clock.now() - timedelta(days=1),
                        ends_at=clock.now() + timedelta(days=30)), actor_id=hq.id, now=clock.now())
    budgets.set_budget(store.id, 1000, "hold", alert_email=None, actor_id=hq.id, now=clock.now())
    purchase, _ = purchases.create_purchase(store.id, "B-1", 100_000, now=clock.now(), code_hours=24,
                                            lines=[LineInput(60_000, name="Coat"), LineInput(40_000, name="Scarf")])
    purchases.claim_receipt(receipt_token(purchase.id), member.id, now=clock.now(), **EARN)
    db.session.commit()
    grant = _grant(purchase)
    assert (grant.status, grant.points, purchase.points) == ("held", 1500, 1000)
    return store, hq, member, purchase


def _grant(purchase):
    return db.session.scalar(select(DiscretionaryGrant).where(
        DiscretionaryGrant.source == "bonus", DiscretionaryGrant.idempotency_key == f"receipt:purchase:{purchase.id}"))


def test_a_refunded_purchase_rejects_its_held_bonus_and_hq_can_no_longer_approve_it(held_bonus, clock):
    store, hq, member, purchase = held_bonus
    clock.advance(days=1)
    purchases.refund_purchase(store.id, "B-1", now=clock.now())
    db.session.commit()

    grant = _grant(purchase)
    assert (grant.status, grant.decision_note) == ("rejected", "purchase refunded")
    logged = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "grant_rejected",
                                                        AuditEntry.subject_id == grant.id))
    assert logged is not None and logged.reason == "purchase refunded"
    with pytest.raises(budgets.GrantAlreadyDecided):
        budgets.decide_grant(grant.id, approve=True, actor_id=hq.id, note="ok", now=clock.now())
    db.session.rollback()
    b = balance(member.id, clock.now())
    assert (b.points, b.pending_points) == (0, 0)
    assert clean_audit() == []


def test_a_partial_refund_also_forfeits_the_held_bonus(held_bonus, clock):
    store, _hq, _member, purchase = held_bonus
    purchases.refund_purchase(store.id, "B-1", now=clock.now(), lines=[RefundLine(2)], refund_no="RF-1")
    db.session.commit()
    assert (_grant(purchase).status, _grant(purchase).decision_note) == ("rejected", "purchase partly refunded")
    assert clean_audit() == []


def test_an_approved_purchase_bonus_is_pending_until_the_purchases_window_ends(app, held_bonus, clock):
    _store, hq, member, purchase = held_bonus
    clock.advance(days=2)
    budgets.decide_grant(_grant(purchase).id, approve=True, actor_id=hq.id, note="ok", now=clock.now())
    db.session.commit()
    b = balance(member.id, clock.now())
    assert (b.points, b.pending_points) == (0, 2500)
    with pytest.raises(InsufficientPoints):
        spend_points(member.id, 1, reason="redeem", source="order", key="early", now=clock.now())
    db.session.rollback()

    clock.advance(days=5, minutes=1)  # 7 days after the purchase, not after the approval
    release_due_pending(clock.now())
    db.session.commit()
    b = balance(member.id, clock.now())
    assert (b.points, b.pending_points) == (2500, 0)
    assert clean_audit() == []


def test_a_refund_after_approval_inside_the_window_cancels_the_bonus_too(held_bonus, clock):
    store, hq, member, purchase = held_bonus
    budgets.decide_grant(_grant(purchase).id, approve=True, actor_id=hq.id, note="ok", now=clock.now())
    db.session.commit()
    clock.advance(days=1)
    purchases.refund_purchase(store.id, "B-1", now=clock.now())
    db.session.commit()

    b = balance(member.id, clock.now())
    assert (b.points, b.pending_points) == (0, 0)
    grant = _grant(purchase)
    assert (grant.status, grant.reversed_points) == ("approved", 1500)
    month = db.session.scalar(select(BudgetMonth).where(BudgetMonth.store_id == store.id))
    assert month.over_points == 0
    assert clean_audit() == []


def test_an_uplift_with_no_base_points_behind_it_is_neither_held_nor_credited(window, shop, clock, monkeypatch):
    """Only an odd rule set gives an uplift with no base (×tier) points; then nothing is held
    for HQ with no purchase credit behind it."""
    import dataclasses

    from mall.engagement import earning

    store, hq, member = shop
    real = earning.earning_for

    def uplift_only(facts):
        result, version = real(facts)
        return dataclasses.replace(result, points=300, bonus_points=300), version

    monkeypatch.setattr(earning, "earning_for", uplift_only)
    budgets.set_budget(store.id, 100, "hold", alert_email=None, actor_id=hq.id, now=clock.now())
    purchase, _ = purchases.create_purchase(store.id, "B-2", 50, now=clock.now(), code_hours=24)
    purchases.claim_receipt(receipt_token(purchase.id), member.id, now=clock.now(), **EARN)
    db.session.commit()
    assert (purchase.points, _grant(purchase)) == (0, None)
    assert clean_audit() == []
