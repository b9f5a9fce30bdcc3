"""Random sequences of earn, spend, expire and refund, checked against DESIGN.md #1.

Shared by the SQLite suite and the PostgreSQL suite, so both backends face the same rules.
"""
from datetime import timedelta
from itertools import count

from hypothesis import strategies as st

from mall.errors import InsufficientPoints, RefundTooLarge
from mall.extensions import db
from mall.audit import run_audit
from mall.points.audit import POINTS_CHECKS
from mall.points.ledger import credit_points, expire_due_points, refund_points, refundable_points, spend_points
from mall.points.models import LedgerEntry, PointsAccount
from mall.points.statement import balance
from tests.factories import make_user

_keys = count(1)

ops = st.lists(st.one_of(
    st.tuples(st.just("earn"), st.integers(1, 500), st.integers(1, 90)),
    st.tuples(st.just("spend"), st.integers(1, 600)),
    st.tuples(st.just("advance"), st.integers(1, 40)),
    st.tuples(st.just("expire")),
    st.tuples(st.just("refund"), st.integers(0, 20), st.integers(1, 600)),
    st.tuples(st.just("replay")),
), min_size=1, max_size=25)


def run_and_check(sequence, clock) -> None:
    member = make_user(clock.now())
    db.session.commit()
    spends: list[int] = []
    last = None
    for op in sequence:
        now = clock.now()
        spendable = balance(member.id, now).points
        kind = op[0]
        if kind == "earn":
            last = ("earn", op[1], op[2], f"k{next(_keys)}")
            credit_points(member.id, op[1], reason="welcome", source="prop", key=last[3],
                          expires_at=now + timedelta(days=op[2]), now=now)
        elif kind == "spend":
            key = f"k{next(_keys)}"
            try:
                entry = spend_points(member.id, op[1], reason="redeem", source="prop", key=key, now=now)
            except InsufficientPoints:
                assert op[1] > spendable, "refused a spend the balance covered"
            else:
                assert op[1] <= spendable, "allowed a spend beyond the spendable balance"
                spends.append(entry.id)
                last = ("spend", op[1], None, key)
        elif kind == "advance":
            clock.advance(days=op[1])
        elif kind == "expire":
            expire_due_points(now)
        elif kind == "refund" and spends:
            spend = db.session.get(LedgerEntry, spends[op[1] % len(spends)])
            left = refundable_points(spend)
            try:
                refund_points(spend.id, op[2], reason="refund", source="prop", key=f"k{next(_keys)}", now=now)
            except RefundTooLarge:
                assert op[2] > left
            else:
                assert op[2] <= left
        elif kind == "replay" and last is not None:
            before = db.session.get(PointsAccount, member.id).balance
            if last[0] == "earn":
                credit_points(member.id, last[1], reason="welcome", source="prop", key=last[3],
                              expires_at=now + timedelta(days=last[2]), now=now)
            else:
                spend_points(member.id, last[1], reason="redeem", source="prop", key=last[3], now=now)
            db.session.expire_all()
            assert db.session.get(PointsAccount, member.id).balance == before, "a replay had an effect"
        db.session.commit()
        account = db.session.get(PointsAccount, member.id)
        assert account.balance >= 0
        assert balance(member.id, clock.now()).points <= account.balance
    failures = [f for f in run_audit(POINTS_CHECKS) if f.violations]
    assert not failures, failures
