"""Issue 12 item 5, one budget model for every discretionary point (DESIGN.md #9): no point
is ever unbudgeted (a programme budget is created on first use), programme budgets alert HQ
at 80% and 100%, a refund inside the return window gives the uplift's charge back, the
member is told which budget held their points, and HQ sees base points beside the budgets."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from mall import settings
from mall.budgets import services as budgets
from mall.budgets.models import BudgetMonth, DiscretionaryGrant, ProgrammeBudget
from mall.engagement import tasks
from mall.engagement.earning import earn_for_purchase
from mall.engagement.rulebook import RuleDraft, save_rule
from mall.extensions import db
from tests.budget_world import clean_audit
from tests.factories import PASSWORD


@pytest.fixture
def programme_default(app):
    """A small default programme budget, so a test can use it up."""
    app.config["MALL_PROGRAMME_DEFAULT_MONTHLY_POINTS"] = 8
    settings.reload(app)
    yield 8
    app.config["MALL_PROGRAMME_DEFAULT_MONTHLY_POINTS"] = 20000
    settings.reload(app)


def _campaign(hq, clock, value=250):
    return save_rule(RuleDraft(kind="campaign", name="Spring x2.5", value=value, starts_at=clock.now() - timedelta(days=1),
                               ends_at=clock.now() + timedelta(days=30)), actor_id=hq.id, now=clock.now())


# --- 1. nothing is unbudgeted --------------------------------------------------------------

def test_an_online_check_in_without_a_programme_budget_is_charged_to_a_default_one(programme_default, shop, clock):
    _store, _hq, member = shop
    assert db.session.scalar(select(ProgrammeBudget)) is None
    first = tasks.check_in(member.id, clock.now())
    clock.advance(days=1)
    second = tasks.check_in(member.id, clock.now())
    # Created on first use with the default (8), held when used up: 5 issued, the next 5 held.
    assert (first.grant.granted, second.grant.granted, second.grant.held) == (5, 0, True)
    budget = db.session.scalar(select(ProgrammeBudget))
    assert (budget.scope, budget.target, budget.monthly_points, budget.when_exhausted) == ("task", "checkin", 8, "hold")
    month = db.session.scalar(select(BudgetMonth).where(BudgetMonth.programme_budget_id == budget.id))
    assert (month.used_points, month.limit_points) == (5, 8)
    statuses = sorted(g.status for g in db.session.scalars(select(DiscretionaryGrant)))
    assert statuses == ["held", "issued"]
    db.session.commit()
    assert clean_audit() == []


def test_an_online_purchase_uplift_is_charged_to_its_campaigns_default_budget(shop, clock):
    _store, hq, member = shop
    rule = _campaign(hq, clock)
    entry = earn_for_purchase(member.id, 20_000, minor_per_point=100, source="web", key="o1", now=clock.now())
    assert entry.points == 500 and entry.detail["bonus_points"] == 300
    budget = db.session.scalar(select(ProgrammeBudget))
    assert (budget.scope, budget.target) == ("campaign", rule.rule_key)
    grant = db.session.scalar(select(DiscretionaryGrant))
    assert (grant.programme_budget_id, grant.points, grant.status, grant.entry_id) == (budget.id, 300, "issued", entry.id)
    db.session.commit()
    assert clean_audit() == []


def test_a_charge_with_neither_store_nor_programme_is_a_bug_not_a_free_pass(shop, clock):
    with pytest.raises(ValueError):
        budgets.charge_discretionary(None, 10, "manual", clock.now())


# --- 2. programme budgets alert HQ at 80% and 100% -------------------------------------------

def test_a_programme_budget_alerts_hq_at_80_and_100_percent_and_the_email_names_it(shop, clock, client, auth):
    from mall.hq.alerts import send_due_alerts
    from mall.hq.models import HqAlert
    _store, hq, member = shop
    budgets.set_programme_budget("task", "checkin", "Daily check-ins", 10, "hold", actor_id=hq.id, now=clock.now())
    tasks.check_in(member.id, clock.now())           # 5 of 10: no alert
    assert db.session.scalar(select(HqAlert)) is None
    clock.advance(days=1)
    tasks.check_in(member.id, clock.now())           # 10 of 10: 80% and 100% at once
    clock.advance(days=1)
    held = tasks.check_in(member.id, clock.now())    # held: the 100% alert is there already, once
    assert held.grant.held
    db.session.commit()
    alerts = db.session.scalars(select(HqAlert).order_by(HqAlert.kind)).all()
    budget = db.session.scalar(select(ProgrammeBudget))
    assert [(a.kind, a.store_id, a.programme_budget_id) for a in alerts] == [
        ("budget_100", None, budget.id), ("budget_80", None, budget.id)]

    sent = []
    mailer = type("Mailer", (), {"send": lambda self, message: sent.append(message)})()
    assert send_due_alerts(clock.now(), mailer) == 2
    assert {m["To"] for m in sent} == {"hq@example.com"}  # no store address for a programme budget
    subjects = sorted(m["Subject"] for m in sent)
    assert subjects == ["Budget used up: the programme budget Daily check-ins has no points left this month",
                        "Budget warning: the programme budget Daily check-ins has used 100% of its points"]
    assert "Programme budget: Daily check-ins" in sent[0].get_content()

    auth.login("hq@example.com", PASSWORD)
    board = re.sub(r"\s+", " ", client.get("/hq").get_data(as_text=True))
    assert "The programme budget Daily check-ins is used up for" in board


# --- 3. a refund inside the return window gives the uplift's charge back ----------------------

def test_a_refund_inside_the_window_gives_the_uplifts_charge_back_in_proportion(window, shop, clock):
    from mall.instore.purchases import LineInput, RefundLine, earn_for_member, refund_purchase
    store, hq, member = shop
    _campaign(hq, clock)
    budgets.set_budget(store.id, 10_000, "hold", alert_email=None, actor_id=hq.id, now=clock.now())
    # ¥300 over three lines at ×2.5 (Silver): base 300 + uplift 450 = 750 pending points.
    purchase, _ = earn_for_member(store.id, "R-1", 30_000, member.id, now=clock.now(), code_hours=24,
                                  minor_per_point=100, lines=[LineInput(10_000, sku="A"), LineInput(10_000, sku="B"),
                                                              LineInput(10_000, sku="C")])
    assert purchase.points == 750
    month = lambda: db.session.scalar(select(BudgetMonth).where(BudgetMonth.store_id == store.id))  # noqa: E731
    grant = db.session.scalar(select(DiscretionaryGrant))
    assert (grant.points, month().used_points) == (450, 450)

    clock.advance(days=2)
    refund = refund_purchase(store.id, "R-1", now=clock.now(), lines=[RefundLine(1)], refund_no="RF-1")
    assert refund.reversed_points == 250
    db.session.expire_all()
    # 250 of 750 cancelled: 450 × 250 ÷ 750 = 150 of the uplift's charge goes back.
    assert (month().used_points, db.session.get(DiscretionaryGrant, grant.id).reversed_points) == (300, 150)
    assert db.session.get(DiscretionaryGrant, grant.id).status == "issued"
    db.session.commit()
    assert clean_audit() == []

    refund_purchase(store.id, "R-1", now=clock.now())  # the rest: the last cancel gives back all the rest
    db.session.commit()
    db.session.expire_all()
    grant = db.session.get(DiscretionaryGrant, grant.id)
    assert (month().used_points, grant.reversed_points, grant.status) == (0, 450, "reversed")
    assert clean_audit() == []
    # A replayed refund gives nothing back twice.
    refund_purchase(store.id, "R-1", now=clock.now())
    db.session.commit()
    assert month().used_points == 0


def test_a_refund_after_the_window_keeps_the_charge(shop, clock):
    """Outside the window (here: no window) the points were spendable and are clawed back;
    the uplift was issued and stays charged."""
    from mall.instore.purchases import earn_for_member, refund_purchase
    store, hq, member = shop
    _campaign(hq, clock)
    earn_for_member(store.id, "R-2", 20_000, member.id, now=clock.now(), code_hours=24, minor_per_point=100)
    refund_purchase(store.id, "R-2", now=clock.now())
    db.session.commit()
    assert db.session.scalar(select(BudgetMonth.used_points).where(BudgetMonth.store_id == store.id)) == 300
    assert db.session.scalar(select(DiscretionaryGrant.status)) == "issued"
    assert clean_audit() == []


# --- 4. the member is told which budget held or refused their task points ---------------------

def test_a_task_notice_names_the_programme_budget_that_held_or_refused_the_points(shop, clock, client, auth):
    _store, hq, member = shop
    budgets.set_programme_budget("task", "checkin", "Daily check-ins", 5, "hold", actor_id=hq.id, now=clock.now())
    budgets.set_programme_budget("task", "profile", "Profile rewards", 5, "refuse", actor_id=hq.id, now=clock.now())
    tasks.check_in(member.id, clock.now())
    clock.advance(days=1)
    held = tasks.check_in(member.id, clock.now()).grant
    assert str(held.notice) == ("The programme budget Daily check-ins is used up this month: your 5 points are "
                                "waiting for HQ's approval.")
    refused = tasks.grant_task_points(member.id, 20, reason="profile", key="profile:test", now=clock.now())
    assert str(refused.notice) == ("The programme budget Profile rewards is used up this month, "
                                   "so these points could not be given.")
    # A replay of the held check-in still names its budget.
    assert tasks.grant_task_points(member.id, 5, reason="checkin", key=_held_key(), now=clock.now()).budget_name \
        == "Daily check-ins"
    db.session.commit()
    auth.login("member@example.com", PASSWORD)
    page = re.sub(r"\s+", " ", client.get("/tasks").get_data(as_text=True))
    assert "5 task points are waiting for HQ's approval: the programme budget Daily check-ins is used up" in page
    assert "the store's points budget" not in page


def _held_key():
    return db.session.scalar(select(DiscretionaryGrant.idempotency_key).where(DiscretionaryGrant.status == "held"))


# --- 5. the cost-by-budget chart shows base points beside the budgets -------------------------

def test_cost_by_budget_shows_base_points_as_cost_of_sales_beside_the_budgets(app, shop, clock):
    from mall.hq import analytics
    from mall.hq.views import dashboard_labels
    store, hq, member = shop
    _campaign(hq, clock)
    budgets.set_budget(store.id, 10_000, "hold", alert_email=None, actor_id=hq.id, now=clock.now())
    earn_for_purchase(member.id, 20_000, minor_per_point=100, source="pos", key="p1", now=clock.now(),
                      store_id=store.id)                      # base 200 + uplift 300 (the store's budget)
    earn_for_purchase(member.id, 10_000, minor_per_point=100, source="web", key="p2", now=clock.now())
    # online: base 100 + uplift 150 (the campaign's default programme budget)
    tasks.check_in(member.id, clock.now())                    # 5 (the check-in's default programme budget)
    db.session.commit()
    with app.test_request_context():
        board = analytics.dashboard(analytics.make_filters(clock.now(), period="30d"), clock.now(),
                                    dashboard_labels())
        store_only = analytics.dashboard(analytics.make_filters(clock.now(), period="30d", store_id=store.id),
                                         clock.now(), dashboard_labels())
    rows = board.charts["budget"].rows
    assert rows[0] == ["Base points (cost of sales)", 300, 300]
    # Budgets created on first use are named by what they are for (mall/hq/names.py), not "Campaign: <key>".
    assert {r[0]: r[1] for r in rows[1:]} == {"Store 7": 300, "Rule: Spring x2.5": 150, "Task: daily check-in": 5}
    assert store_only.charts["budget"].rows[0][:2] == ["Base points (cost of sales)", 200]


def test_a_default_named_programme_budget_is_named_in_the_readers_language(programme_default, shop, clock, client,
                                                                           auth):
    """A budget created on first use is stored as "Task: checkin": nobody chose that name, so
    the member's notice, their task board and HQ's email name the task in the reader's
    language instead."""
    from flask_babel import force_locale

    from mall.hq.alerts import send_due_alerts
    _store, hq, member = shop
    db.session.get(type(hq), hq.id).locale = "zh_Hans"
    tasks.check_in(member.id, clock.now())
    clock.advance(days=1)
    held = tasks.check_in(member.id, clock.now()).grant  # the default budget (8) is used up: held
    assert db.session.scalar(select(ProgrammeBudget.name)) == "Task: checkin"
    with force_locale("zh_Hans"):
        assert str(held.notice) == "项目预算 任务：每日签到 本月已用完：您的 5 积分正在等待总部审批。"
    with force_locale("en"):
        assert str(held.notice).startswith("The programme budget Task: daily check-in is used up this month")
    db.session.commit()

    sent = []
    mailer = type("Mailer", (), {"send": lambda self, message: sent.append(message)})()
    assert send_due_alerts(clock.now(), mailer) >= 1
    assert "预算已用完：项目预算 任务：每日签到 本月已无积分可用" in {m["Subject"] for m in sent}

    auth.login("member@example.com", PASSWORD)
    page = re.sub(r"\s+", " ", client.get("/tasks", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True))
    assert "任务：每日签到" in page and "Task: checkin" not in page
