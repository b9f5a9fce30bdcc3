"""Store budgets on real PostgreSQL and Redis: 50 concurrent grants never overshoot the
budget, the 80% warning is written once, 100% holds or refuses per the setting, and
purchase base points go through at a store whose budget is used up."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mall.extensions import db
from mall.budgets import services as budgets
from mall.budgets.models import BudgetMonth, DiscretionaryGrant
from mall.hq.models import HqAlert
from mall.instore.models import Store
from mall.audit import run_audit
from mall.engagement.earning import earn_for_purchase
from mall.points.models import LedgerEntry
from tests.concurrency import race
from tests.factories import make_tiers, make_user

GRANTS, POINTS, BUDGET = 50, 30, 1000  # 50 x 30 = 1,500 asked against 1,000: at most 33 fit


def _store_with_budget(clock, when_exhausted):
    make_tiers()
    hq = make_user(clock.now(), role="hq", login="hq@example.com")
    store = Store(code="S-PG", name="Store PG", region="East")
    db.session.add(store)
    db.session.flush()
    budgets.set_budget(store.id, BUDGET, when_exhausted, alert_email="store@example.com", actor_id=hq.id,
                       now=clock.now())
    members = [make_user(clock.now()).id for _ in range(10)]
    db.session.commit()
    return store.id, members


def _race(pg_app, clock, store_id, members, work):
    outcomes = race(pg_app, GRANTS, work, refusals=(budgets.BudgetRefused,), returns=True)
    db.session.expire_all()
    return ["refused" if o == budgets.BudgetRefused.__name__ else o for o in outcomes]


def _grant(store_id, members, clock):
    def work(n):
        grant = budgets.issue_discretionary(
            members[n % len(members)], POINTS, store_id=store_id, kind="campaign", reason="bonus",
            source="race", key=f"g{n}", expires_at=clock.now() + timedelta(days=90), now=clock.now())
        return grant.status
    return work


@pytest.mark.parametrize("when_exhausted", ["hold", "refuse"])
def test_fifty_concurrent_grants_never_overshoot_the_budget(pg_app, clock, when_exhausted):
    store_id, members = _store_with_budget(clock, when_exhausted)
    outcomes = _race(pg_app, clock, store_id, members, _grant(store_id, members, clock))

    month = db.session.scalar(select(BudgetMonth).where(BudgetMonth.store_id == store_id))
    credited = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0))
                                 .where(LedgerEntry.source == "race"))
    fit = BUDGET // POINTS
    assert len(outcomes) == GRANTS
    assert outcomes.count("issued") == fit and month.used_points == fit * POINTS == credited <= BUDGET
    other = "held" if when_exhausted == "hold" else "refused"
    assert outcomes.count(other) == GRANTS - fit
    held = db.session.scalar(select(func.count()).select_from(DiscretionaryGrant)
                             .where(DiscretionaryGrant.status == "held"))
    assert held == (GRANTS - fit if when_exhausted == "hold" else 0)
    kinds = sorted(db.session.scalars(select(HqAlert.kind)).all())
    assert kinds == (["budget_100", "budget_80"] if when_exhausted == "hold" else ["budget_80"])
    assert not [f for f in run_audit() if f.violations]


def test_purchase_points_go_through_while_the_budget_is_used_up(pg_app, clock):
    store_id, members = _store_with_budget(clock, "refuse")
    budgets.issue_discretionary(members[0], BUDGET, store_id=store_id, kind="manual", reason="adjustment",
                                source="fill", key="fill", expires_at=clock.now() + timedelta(days=90), now=clock.now())
    db.session.commit()

    def work(n):
        entry = earn_for_purchase(members[n % len(members)], 10_000, minor_per_point=100, source="pos",
                                  key=f"r{n}", now=clock.now(), store_id=store_id)
        return "earned" if entry and entry.points == 100 else "missing"
    outcomes = _race(pg_app, clock, store_id, members, work)
    assert outcomes == ["earned"] * GRANTS
    month = db.session.scalar(select(BudgetMonth).where(BudgetMonth.store_id == store_id))
    assert month.used_points == BUDGET  # purchases are not charged to the budget


def test_budget_alert_emails_go_out_once_after_commit(pg_app, clock):
    store_id, members = _store_with_budget(clock, "hold")
    budgets.issue_discretionary(members[0], 900, store_id=store_id, kind="manual", reason="adjustment",
                                source="fill", key="fill", expires_at=clock.now() + timedelta(days=90), now=clock.now())
    db.session.commit()
    from mall.hq.alerts import send_due_alerts
    sent = []
    mailer = type("Mailer", (), {"send": lambda self, message: sent.append(message)})()
    assert send_due_alerts(clock.now(), mailer) == 1
    assert send_due_alerts(clock.now(), mailer) == 0  # a second run sends nothing twice
    assert sorted(m["To"] for m in sent) == ["hq@example.com", "store@example.com"]
    assert "90%" in sent[0]["Subject"]


# --- one budget model: bonus-rule uplift (issue 12, item 5) -------------------------------------

UPLIFT_ROOM = 10  # the budget has room for 10 uplifts of 100 points


@pytest.mark.parametrize("when_exhausted", ["hold", "refuse"])
def test_fifty_concurrent_bonus_earns_issue_exactly_the_uplifts_the_budget_has_room_for(pg_app, clock,
                                                                                      when_exhausted):
    from mall.engagement.rulebook import RuleDraft, save_rule
    make_tiers()
    hq = make_user(clock.now(), role="hq", login="hq@example.com")
    store = Store(code="S-UP", name="Store Uplift", region="East")
    db.session.add(store)
    db.session.flush()
    # ¥100 at a ×2 campaign: base 100 (cost of sales, never budgeted) + uplift 100.
    save_rule(RuleDraft(kind="campaign", name="Double days", value=200, starts_at=clock.now() - timedelta(days=1),
                        ends_at=clock.now() + timedelta(days=10)), actor_id=hq.id, now=clock.now())
    budgets.set_budget(store.id, UPLIFT_ROOM * 100, when_exhausted, alert_email=None, actor_id=hq.id,
                       now=clock.now())
    members = [make_user(clock.now()).id for _ in range(10)]
    db.session.commit()

    def work(n):
        entry = earn_for_purchase(members[n % len(members)], 10_000, minor_per_point=100, source="pos",
                                  key=f"bonus-{n}", now=clock.now(), store_id=store.id)
        return entry.points
    outcomes = race(pg_app, GRANTS, work, refusals=(), returns=True)
    db.session.expire_all()

    assert sorted(set(outcomes)) == [100, 200], outcomes  # every purchase earned; base always issued
    assert outcomes.count(200) == UPLIFT_ROOM
    month = db.session.scalar(select(BudgetMonth).where(BudgetMonth.store_id == store.id))
    assert month.used_points == UPLIFT_ROOM * 100 == month.limit_points  # never overshoots
    issued = db.session.scalar(select(func.count()).select_from(DiscretionaryGrant)
                               .where(DiscretionaryGrant.status == "issued", DiscretionaryGrant.kind == "bonus"))
    held = db.session.scalar(select(func.count()).select_from(DiscretionaryGrant)
                             .where(DiscretionaryGrant.status == "held"))
    assert issued == UPLIFT_ROOM
    assert held == (GRANTS - UPLIFT_ROOM if when_exhausted == "hold" else 0)
    credited = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0))
                                 .where(LedgerEntry.source == "pos"))
    assert credited == GRANTS * 100 + UPLIFT_ROOM * 100
    assert not [f for f in run_audit() if f.violations]


def test_pending_points_are_never_spent_by_concurrent_redemptions(pg_app, clock):
    """Twenty redemptions race against a member whose only points are pending: none gets
    through, and after the release exactly the available points are spent."""
    from mall import settings
    from mall.errors import InsufficientPoints
    from mall.points.ledger import release_due_pending, spend_points
    pg_app.config["MALL_RETURN_WINDOW_DAYS"] = 7
    settings.reload(pg_app)
    make_tiers()
    member = make_user(clock.now()).id
    earn_for_purchase(member, 50_000, minor_per_point=100, source="pos", key="pending", now=clock.now())
    db.session.commit()

    def spend(n):
        return spend_points(member, 100, reason="redeem", source="order", key=f"o{n}", now=clock.now()).points
    assert race(pg_app, 20, spend, refusals=(InsufficientPoints,)) == ["InsufficientPoints"] * 20
    clock.advance(days=7, minutes=1)
    assert release_due_pending(clock.now()) == 1
    db.session.commit()
    outcomes = race(pg_app, 20, spend, refusals=(InsufficientPoints,))
    assert outcomes.count("ok") == 5 and outcomes.count("InsufficientPoints") == 15
    assert not [f for f in run_audit() if f.violations]
