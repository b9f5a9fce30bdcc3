"""HQ's pages name stores, rules, ledger reasons, coupons, red packets and programme budgets in
the reader's language (mall/hq/names.py): Chinese names for a zh reader where they exist,
English otherwise; budgets HQ named keep HQ's name; the CSV exports say what the page says."""
import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from mall.budgets.models import ProgrammeBudget
from mall.engagement.rulebook import RuleDraft, save_rule
from mall.extensions import db
from mall.points.ledger import credit_points
from mall.redpackets.claims import claim
from mall.wallet.models import WalletItem
from tests.games_world import make_game
from tests.hq_figures_world import SHOP_DAY_START, make_world
from tests.redpacket_world import make_campaign

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}


@pytest.fixture
def world(tiers, clock):
    now = clock.now()
    world = make_world(now)
    world["south"].name_zh = "南区店"  # North Store has no Chinese name: shown in English to everyone
    rule = save_rule(RuleDraft(kind="campaign", name="Spring x2", name_zh="春季双倍", value=200,
                               starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=30)),
                     actor_id=world["hq"].id, now=now)
    credit_points(world["bob"].id, 40, reason="purchase", source="pos", key="promo", now=SHOP_DAY_START,
                  expires_at=now + timedelta(days=300), store_id=world["south"].id, detail={"campaign": "Spring x2"})
    claim(make_campaign(now).id, world["bob"].id, now=now)  # "Spring red packets", 春节红包
    db.session.execute(update(WalletItem).where(WalletItem.name == "Fresh ¥5").values(name_zh="生鲜立减5元"))
    game = make_game(now)  # its budget is created with the default name, as HQ's coupons' one ("Campaign: coupons")
    db.session.add_all([
        ProgrammeBudget(scope="task", target="checkin", name="Task: checkin", monthly_points=500,
                        when_exhausted="hold", updated_at=now),  # created on first use
        ProgrammeBudget(scope="task", target="referral", name="任务：推荐好友", monthly_points=500,
                        when_exhausted="hold", updated_at=now),  # set by a zh reader before names.py
        ProgrammeBudget(scope="campaign", target=rule.rule_key, name=f"Campaign: {rule.rule_key}",
                        monthly_points=500, when_exhausted="hold", updated_at=now),
        ProgrammeBudget(scope="campaign", target="spring-push", name="HQ's spring push", monthly_points=500,
                        when_exhausted="hold", updated_at=now),  # a name HQ gave it
    ])
    db.session.commit()
    world["game"] = game
    return world


def _rows(page):
    """Every table row's heading on the page."""
    return set(re.findall(r'<th scope="row">([^<]*)</th>', page))


def _get(client, auth, url, headers):
    auth.login("hq@example.com")
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_dashboard_in_chinese_names_stores_reasons_rules_coupons_and_red_packets_in_chinese(client, auth, world):
    rows = _rows(_get(client, auth, "/hq?period=all", ZH))
    assert {"南区店", "North Store", "消费积分", "每日签到", "春季双倍", "春节红包", "生鲜立减5元"} <= rows
    assert not {"South Store", "purchase", "checkin", "Spring x2", "Spring red packets", "Fresh ¥5"} & rows


def test_the_dashboard_in_english_names_them_in_english(client, auth, world):
    rows = _rows(_get(client, auth, "/hq?period=all", EN))
    assert {"South Store", "North Store", "Points for purchases", "Daily check-in", "Spring x2",
            "Spring red packets", "Fresh ¥5"} <= rows
    assert not {"purchase", "checkin", "南区店"} & rows


def test_the_store_filter_offers_stores_by_their_name_in_the_readers_language(client, auth, world):
    page = _get(client, auth, "/hq", ZH)
    select = page.split('name="store"')[1].split("</select>")[0]
    assert f'value="{world["south"].id}">南区店</option>' in select


@pytest.mark.parametrize("headers, rule_row, campaign_row", [
    (ZH, ["每日签到", "5", "0.05"], ["春节红包"]),
    (EN, ["Daily check-in", "5", "0.05"], ["Spring red packets"])])
def test_csv_exports_use_the_pages_labels(client, auth, world, headers, rule_row, campaign_row):
    auth.login("hq@example.com")
    for chart, row in (("rule", rule_row), ("wallet_campaign", campaign_row)):
        response = client.get(f"/hq/export/{chart}.csv", headers=headers)
        assert response.headers["Content-Disposition"].startswith(f'attachment; filename="point-mall-{chart}-')
        exported = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
        assert any(r[:len(row)] == row for r in exported[1:]), (chart, exported)


def test_programme_budgets_are_named_by_what_they_are_for_in_chinese(client, auth, world):
    page = _get(client, auth, "/hq/budgets", ZH)
    for label in ("任务：每日签到", "任务：推荐好友", "总部发放的优惠券", "规则：春季双倍", "游戏：幸运盲盒", "HQ&#39;s spring push"):
        assert label in page, label
    assert "Task: checkin" not in page and "Campaign: coupons" not in page


def test_programme_budgets_are_named_in_english_and_hqs_own_name_is_kept(client, auth, world):
    # The game's budget was saved under the old default ("Game: <English name>"): still derived.
    db.session.get(ProgrammeBudget, world["game"].programme_budget_id).name = "Game: Lucky box"
    db.session.commit()
    page = _get(client, auth, "/hq/budgets", EN)
    for label in ("Task: daily check-in", "Task: referral", "Coupons issued by HQ", "Rule: Spring x2",
                  "Game: Lucky box", "HQ&#39;s spring push"):
        assert label in page, label
    assert "任务" not in page and "Task: checkin" not in page
    assert "游戏：幸运盲盒" in _get(client, auth, "/hq/budgets", ZH)


def test_a_budget_set_on_the_form_is_stored_under_its_default_name_and_shown_in_each_language(client, auth, world):
    auth.login("hq@example.com")
    page = client.get("/hq/budgets/programme", headers=ZH).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    data = {"target": "task:profile", "monthly_points": "300", "when_exhausted": "hold"}
    if token:
        data["csrf_token"] = token.group(1)
    assert client.post("/hq/budgets/programme", data=data, headers=ZH).status_code in (302, 303, 200)
    budget = db.session.query(ProgrammeBudget).filter_by(scope="task", target="profile").one()
    assert budget.name == "Task: profile"
    assert "Task: profile" in _get(client, auth, "/hq/budgets", EN)
    zh = _get(client, auth, "/hq/budgets", ZH)
    assert "任务：完善资料" in zh and "Task: profile" not in zh
