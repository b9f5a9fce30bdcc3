"""Pending purchase points (DESIGN.md #10) and one budget model for discretionary points (#9):
points from a purchase wait out the return window, a refund inside it cancels them without
a clawback, `mall jobs` releases them afterwards; bonus uplift and task points are charged
to a budget before they are issued, and ROI charges a rule only its uplift."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mall.budgets import services as budgets
from mall.budgets.models import BudgetMonth, DiscretionaryGrant
from mall.engagement import tasks
from mall.engagement.earning import earn_for_purchase
from mall.engagement.rulebook import RuleDraft, save_rule
from mall.errors import InsufficientPoints
from mall.extensions import db
from mall.hq import segments
from mall.instore.models import Clawback
from mall.instore.purchases import earn_for_member, refund_purchase
from mall.points.ledger import spend_points
from mall.points.statement import balance
from tests.budget_world import clean_audit
from tests.factories import PASSWORD

EARN = dict(code_hours=24, minor_per_point=100)


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_a_pending_purchase_refunded_within_the_window_leaves_no_points_and_no_clawback(window, shop, clock):
    store, _hq, member = shop
    purchase, _ = earn_for_member(store.id, "R-100", 20_000, member.id, now=clock.now(), **EARN)
    assert purchase.points == 200
    b = balance(member.id, clock.now())
    assert (b.points, b.pending_points) == (0, 200)
    with pytest.raises(InsufficientPoints):  # pending points are not spendable
        spend_points(member.id, 1, reason="redeem", source="order", key="early", now=clock.now())

    clock.advance(days=3)
    refund = refund_purchase(store.id, "R-100", now=clock.now())
    db.session.commit()

    assert (refund.reversed_points, refund.clawback_points) == (200, 0)
    b = balance(member.id, clock.now())
    assert (b.points, b.pending_points) == (0, 0)
    assert db.session.scalar(select(func.count()).select_from(Clawback)) == 0
    assert clean_audit() == []


def test_after_the_window_the_jobs_command_releases_the_points_and_they_can_be_spent(app, window, shop, clock):
    store, _hq, member = shop
    earn_for_member(store.id, "R-200", 30_000, member.id, now=clock.now(), **EARN)
    db.session.commit()
    clock.advance(days=6)
    app.test_cli_runner().invoke(args=["mall", "jobs"])
    assert balance(member.id, clock.now()).pending_points == 300  # still inside the window

    clock.advance(days=1, minutes=1)
    result = app.test_cli_runner().invoke(args=["mall", "jobs"])
    assert "pending points: 1 purchases' points released" in result.output
    b = balance(member.id, clock.now())
    assert (b.points, b.pending_points) == (300, 0)
    spend_points(member.id, 300, reason="redeem", source="order", key="after", now=clock.now())
    db.session.commit()
    assert balance(member.id, clock.now()).points == 0
    # A refund after the window is the old clawback rule: the points were spent, so they are owed.
    refund = refund_purchase(store.id, "R-200", now=clock.now())
    assert (refund.reversed_points, refund.clawback_points) == (0, 300)
    db.session.commit()
    assert clean_audit() == []


def test_home_and_statement_show_the_pending_line_with_its_shop_local_date(app, window, shop, clock, client, auth):
    store, _hq, member = shop
    clock.set(clock.now().replace(month=3, day=1, hour=20, minute=0))  # 04:00 next day in Shanghai
    earn_for_member(store.id, "R-300", 12_300, member.id, now=clock.now(), **EARN)
    db.session.commit()
    auth.login("member@example.com", PASSWORD)
    home = _text(client.get("/"))
    assert "123 points pending, available on Mar 9, 2026" in home
    assert "Pending, available on Mar 9, 2026" in home
    statement = _text(client.get("/points/statement"))
    assert "Pending, available on Mar 9, 2026" in statement


# --- one budget model ---------------------------------------------------------------------

def _campaign(hq, clock, value=250):
    return save_rule(RuleDraft(kind="campaign", name="Spring x2.5", value=value, starts_at=clock.now() - timedelta(days=1),
                               ends_at=clock.now() + timedelta(days=30)), actor_id=hq.id, now=clock.now())


def test_bonus_uplift_is_charged_to_the_store_budget_and_base_points_never_are(shop, clock):
    store, hq, member = shop
    _campaign(hq, clock)
    budgets.set_budget(store.id, 1000, "refuse", alert_email=None, actor_id=hq.id, now=clock.now())
    # ¥1,000 x 2.5 at Silver: base 1,000, uplift 1,500 (more than the whole budget): refused,
    # the member still gets the base points.
    entry = earn_for_purchase(member.id, 100_000, minor_per_point=100, source="pos", key="big", now=clock.now(),
                              store_id=store.id)
    assert entry.points == 1000 and entry.detail["bonus_refused"] == 1500
    # ¥200 x 2.5: uplift 300, within the budget: charged, then issued.
    entry = earn_for_purchase(member.id, 20_000, minor_per_point=100, source="pos", key="small", now=clock.now(),
                              store_id=store.id)
    assert entry.points == 500 and entry.detail["bonus_points"] == 300
    month = db.session.scalar(select(BudgetMonth).where(BudgetMonth.store_id == store.id))
    assert month.used_points == 300
    db.session.commit()
    assert clean_audit() == []


def test_online_check_ins_are_charged_to_the_task_budget_and_held_at_its_limit(shop, clock):
    _store, hq, member = shop
    budgets.set_programme_budget("task", "checkin", "Check-ins", 8, "hold", actor_id=hq.id, now=clock.now())
    first = tasks.check_in(member.id, clock.now())
    clock.advance(days=1)
    second = tasks.check_in(member.id, clock.now())
    assert (first.grant.granted, second.grant.granted, second.grant.held) == (5, 0, True)
    month = db.session.scalar(select(BudgetMonth).where(BudgetMonth.programme_budget_id.is_not(None)))
    assert (month.used_points, month.limit_points) == (5, 8)
    held = db.session.scalar(select(DiscretionaryGrant).where(DiscretionaryGrant.status == "held"))
    budgets.decide_grant(held.id, approve=True, actor_id=hq.id, note="ok", now=clock.now())
    db.session.commit()
    assert db.session.get(BudgetMonth, month.id).over_points == 5
    assert clean_audit() == []


def test_roi_charges_a_rule_only_its_uplift(shop, clock):
    store, hq, member = shop
    _campaign(hq, clock)
    earn_for_purchase(member.id, 100_000, minor_per_point=100, source="pos", key="r1", now=clock.now(),
                      store_id=store.id)  # base 1,000 + uplift 1,500 (no budget: unbudgeted)
    segments.refresh_roi(clock.now())
    table = {r["rule"]: r for r in segments.roi_table()}
    assert table["Spring x2.5"]["points"] == 1500  # not 2,500: the base points are cost of sales
    assert table["Spring x2.5"]["cost_minor"] == 1500
    assert table["Spring x2.5"]["roi_pct"] == round((100_000 - 1500) * 100 / 1500, 1)


def test_hq_sets_a_programme_budget_and_the_dashboard_shows_cost_by_budget(shop, clock, client, auth):
    store, hq, member = shop
    budgets.set_budget(store.id, 1000, "hold", alert_email=None, actor_id=hq.id, now=clock.now())
    budgets.manual_grant(store.id, member.member_code, 40, "sorry", key="k1", actor_id=hq.id, now=clock.now())
    db.session.commit()
    auth.login("hq@example.com", PASSWORD)
    response = client.post("/hq/budgets/programme", data={"target": "task:checkin", "monthly_points": 500,
                                                          "when_exhausted": "refuse"})
    assert response.status_code == 302
    tasks.check_in(member.id, clock.now())
    db.session.commit()
    page = _text(client.get("/hq/budgets"))
    assert "Task: daily check-in" in page and "5 of 500 points this month" in page
    board = _text(client.get("/hq"))
    assert "Cost by budget" in board
    assert re.search(r"Store 7</th>\s*<td class=\"num\">40</td>", client.get("/hq").get_data(as_text=True))
