"""The ledger on real PostgreSQL and Redis: properties and concurrent spends."""
from hypothesis import HealthCheck, given, settings
from sqlalchemy import func, select

from mall.errors import InsufficientPoints
from mall.extensions import db
from mall.audit import run_audit
from mall.points.ledger import spend_points
from mall.points.models import LedgerEntry, PointsAccount
from tests.concurrency import race
from tests.factories import give_points, make_tiers, make_user
from tests.ledger_properties import ops, run_and_check


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=ops)
def test_random_ledger_histories_keep_points_conserved_on_postgres(pg_app, clock, sequence):
    run_and_check(sequence, clock)


def test_twenty_threads_spending_one_balance_never_spend_more_than_it_holds(pg_app, clock):
    make_tiers()
    member = make_user(clock.now())
    give_points(member.id, 1000, clock.now())
    db.session.commit()
    member_id = member.id
    outcomes = race(pg_app, 20, lambda n: spend_points(member_id, 70, reason="redeem", source="race", key=f"t{n}",
                                                       now=clock.now()), refusals=(InsufficientPoints,))

    db.session.expire_all()
    spent = -db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0))
                               .where(LedgerEntry.kind == "spend"))
    assert outcomes.count("ok") == 14 and outcomes.count("InsufficientPoints") == 6
    assert spent == 14 * 70 <= 1000
    assert db.session.get(PointsAccount, member_id).balance == 1000 - spent
    assert not [f for f in run_audit() if f.violations]


def test_the_same_spend_sent_by_ten_threads_at_once_takes_points_once(pg_app, clock):
    make_tiers()
    member = make_user(clock.now())
    give_points(member.id, 1000, clock.now())
    db.session.commit()
    member_id = member.id
    race(pg_app, 10, lambda i: spend_points(member_id, 300, reason="redeem", source="order", key="double-tap",
                                            now=clock.now()))
    db.session.expire_all()
    assert db.session.get(PointsAccount, member_id).balance == 700
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)
                             .where(LedgerEntry.source == "order")) == 1
