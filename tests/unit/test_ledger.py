"""The points ledger on the fast suite (SQLite). The same rules run on PostgreSQL in
tests/integration."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mall.errors import InsufficientPoints, InvalidAmount, RefundTooLarge
from mall.extensions import db
from mall.points.ledger import (IdempotencyConflict, credit_points, expire_due_points, refund_points,
                                spend_points)
from mall.points.models import LedgerEntry, PointLot, PointsAccount
from mall.points.statement import balance, statement
from tests.factories import give_points, make_user


@pytest.fixture
def member(app, clock):
    user = make_user(clock.now())
    db.session.commit()
    return user


def _balance(member):
    return db.session.get(PointsAccount, member.id).balance


def test_credit_adds_a_lot_and_a_ledger_line(member, clock):
    entry = give_points(member.id, 500, clock.now())
    assert _balance(member) == 500
    assert entry.balance_after == 500
    lot = db.session.scalar(select(PointLot).where(PointLot.entry_id == entry.id))
    assert (lot.amount, lot.remaining) == (500, 500)


def test_spend_takes_the_soonest_expiring_lot_first_not_the_oldest(member, clock):
    now = clock.now()
    long_lived = give_points(member.id, 100, now, days_valid=700)   # older, expires later
    clock.advance(days=1)
    short_lived = give_points(member.id, 100, clock.now(), days_valid=30)
    spend_points(member.id, 120, reason="redeem", source="test", key="s1", now=clock.now())
    lots = {l.entry_id: l.remaining for l in db.session.scalars(select(PointLot))}
    assert lots[short_lived.id] == 0
    assert lots[long_lived.id] == 80


def test_spend_more_than_the_balance_is_refused_and_changes_nothing(member, clock):
    give_points(member.id, 100, clock.now())
    with pytest.raises(InsufficientPoints):
        spend_points(member.id, 101, reason="redeem", source="test", key="too-much", now=clock.now())
    assert _balance(member) == 100
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1


@pytest.mark.parametrize("points", [0, -5, 1.5, "10"])
def test_non_positive_or_non_integer_amounts_are_refused(member, clock, points):
    with pytest.raises(InvalidAmount):
        spend_points(member.id, points, reason="redeem", source="test", key="bad", now=clock.now())
    with pytest.raises(InvalidAmount):
        credit_points(member.id, points, reason="welcome", source="test", key="bad",
                      expires_at=clock.now() + timedelta(days=1), now=clock.now())


def test_the_same_intent_applied_twice_has_one_effect(member, clock):
    give_points(member.id, 300, clock.now(), key="welcome")
    first = spend_points(member.id, 100, reason="redeem", source="order", key="o-1", now=clock.now())
    again = spend_points(member.id, 100, reason="redeem", source="order", key="o-1", now=clock.now())
    assert again.id == first.id
    assert _balance(member) == 200
    give_points(member.id, 300, clock.now(), key="welcome")
    assert _balance(member) == 200


def test_the_same_key_from_another_source_is_another_intent(member, clock):
    give_points(member.id, 300, clock.now())
    spend_points(member.id, 100, reason="redeem", source="order", key="1", now=clock.now())
    spend_points(member.id, 100, reason="redeem", source="pos", key="1", now=clock.now())
    assert _balance(member) == 100


def test_reusing_a_key_for_a_different_amount_is_refused(member, clock):
    give_points(member.id, 300, clock.now())
    spend_points(member.id, 100, reason="redeem", source="order", key="o-1", now=clock.now())
    with pytest.raises(IdempotencyConflict):
        spend_points(member.id, 150, reason="redeem", source="order", key="o-1", now=clock.now())
    assert _balance(member) == 200


def test_expiry_job_turns_expired_remainders_into_expiry_lines(member, clock):
    give_points(member.id, 100, clock.now(), days_valid=10)
    give_points(member.id, 50, clock.now(), days_valid=100)
    spend_points(member.id, 30, reason="redeem", source="test", key="s", now=clock.now())
    clock.advance(days=11)
    assert expire_due_points(clock.now()) == 1
    assert _balance(member) == 50
    expiry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "expire"))
    assert expiry.points == -70 and expiry.reason == "expired"
    assert expire_due_points(clock.now()) == 0  # a second run changes nothing
    assert _balance(member) == 50


def test_points_past_expiry_are_never_spent_even_before_the_job_runs(member, clock):
    give_points(member.id, 100, clock.now(), days_valid=10)
    clock.advance(days=10)
    with pytest.raises(InsufficientPoints):
        spend_points(member.id, 1, reason="redeem", source="test", key="late", now=clock.now())
    assert balance(member.id, clock.now()).points == 0


def test_refund_returns_points_to_their_lot_with_its_original_expiry(member, clock):
    now = clock.now()
    lot_entry = give_points(member.id, 100, now, days_valid=60)
    spend = spend_points(member.id, 80, reason="redeem", source="test", key="s", now=now)
    refund_points(spend.id, 80, reason="refund", source="test", key="r", now=now + timedelta(days=1))
    lot = db.session.scalar(select(PointLot).where(PointLot.entry_id == lot_entry.id))
    assert lot.remaining == 100
    assert lot.expires_at == now + timedelta(days=60)
    assert _balance(member) == 100


def test_a_refund_cannot_exceed_what_was_spent(member, clock):
    give_points(member.id, 100, clock.now())
    spend = spend_points(member.id, 60, reason="redeem", source="test", key="s", now=clock.now())
    refund_points(spend.id, 40, reason="refund", source="test", key="r1", now=clock.now())
    with pytest.raises(RefundTooLarge):
        refund_points(spend.id, 21, reason="refund", source="test", key="r2", now=clock.now())
    refund_points(spend.id, 20, reason="refund", source="test", key="r3", now=clock.now())
    assert _balance(member) == 100


def test_points_refunded_after_their_lot_expired_expire_again_at_once(member, clock):
    give_points(member.id, 100, clock.now(), days_valid=10)
    spend = spend_points(member.id, 100, reason="redeem", source="test", key="s", now=clock.now())
    clock.advance(days=20)
    refund_points(spend.id, 100, reason="refund", source="test", key="r", now=clock.now())
    assert _balance(member) == 0
    kinds = [e.kind for e in statement(member.id).entries]
    assert kinds[:2] == ["expire", "refund"]


def test_statement_filters_by_type_and_explains_each_line(member, clock):
    give_points(member.id, 100, clock.now())
    spend_points(member.id, 40, reason="redeem", source="test", key="s", now=clock.now(),
                 detail={"item": "Mug"})
    page = statement(member.id, kind="spent")
    assert [e.points for e in page.entries] == [-40]
    assert statement(member.id, kind="nonsense").kind is None  # unknown filter shows all
