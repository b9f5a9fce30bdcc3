"""HQ shows categories by name in the reader's language, never by slug: the dashboard's charts
and tables, the category filter's options, the CSV exports and the coupons' breakdown. The
filter's value stays the slug (stable links); a category deleted since shows its slug; the
names cost the dashboard no query. The console's earning rules and item form name categories
the same way."""
import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import event

from mall.catalog.models import Category
from mall.engagement.rulebook import RuleDraft, save_rule
from mall.extensions import db
from mall.hq import analytics
from mall.instore.categories import save_purchase_category
from mall.points.ledger import credit_points
from tests.factories import make_category, make_user
from tests.hq_figures_world import make_world

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
# GET /hq on this world ran 30 queries before categories had names (measured on main at
# 8d4e26c with _queries below): naming them must not add one.
QUERIES_BEFORE_NAMES = 30


@pytest.fixture
def world(tiers, clock):
    world = make_world(clock.now())  # "fresh" is a catalogue category; "kitchen" and "home" are in no table
    db.session.get(Category, make_category("fresh").id).name_zh = "生鲜"
    db.session.commit()
    return world


def _login(client, auth):
    auth.login("hq@example.com")
    client.get("/hq")  # rolls the closed days up, so every count below reads the same way


def _options(page):
    select = page.split('name="category"')[1].split("</select>")[0]
    return dict(re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select))


def _category_table(page, title):
    figure = page.split(f">{title}</h2>")[1].split("</figure>")[0]
    return dict(re.findall(r'<th scope="row">([^<]*)</th><td class="num">([^<]*)</td>', figure))


def test_the_dashboard_in_chinese_names_categories_in_chinese_and_the_filter_keeps_the_slug(client, auth, world):
    _login(client, auth)
    page = client.get("/hq", headers=ZH).get_data(as_text=True)
    assert _category_table(page, "按品类的成本") == {"生鲜": "200", "kitchen": "100", "无品类": "5"}
    assert "生鲜" in _category_table(page, "按品类：优惠券和红包")
    chart = page.split('id="chart-category-title"')[1].split("data-chart=")[1].split("aria-hidden")[0]
    assert "\\u751f\\u9c9c" in chart  # 生鲜, as the chart's JSON escapes it
    assert ">fresh<" not in page
    # The option reads 生鲜 and sends "fresh"; "home" is in no category table: its slug.
    options = _options(page)
    assert options["fresh"] == "生鲜" and options["home"] == "home"


def test_filtering_by_the_slug_narrows_the_figures_and_keeps_the_option_chosen(client, auth, world):
    _login(client, auth)
    page = client.get("/hq?category=fresh", headers=ZH).get_data(as_text=True)
    assert re.search(r'<option[^>]*selected[^>]*value="fresh"[^>]*>生鲜</option>|'
                     r'<option[^>]*value="fresh"[^>]*selected[^>]*>生鲜</option>', page)
    assert _category_table(page, "按品类的成本") == {"生鲜": "200"}
    assert 'href="/hq/export/category.csv?period=30d&amp;category=fresh' in page


def test_english_readers_and_untranslated_categories_get_the_english_name(client, auth, world):
    _login(client, auth)
    assert _category_table(client.get("/hq").get_data(as_text=True), "Cost by category")["Fresh food"] == "200"
    db.session.get(Category, make_category("fresh").id).name_zh = None
    db.session.commit()
    assert "Fresh food" in _category_table(client.get("/hq", headers=ZH).get_data(as_text=True), "按品类的成本")


def test_a_merchant_purchase_category_is_named_too(client, auth, world):
    save_purchase_category("kitchen", "Kitchen", name_zh="厨房")
    db.session.commit()
    _login(client, auth)
    assert _category_table(client.get("/hq", headers=ZH).get_data(as_text=True), "按品类的成本")["厨房"] == "100"


def test_the_csv_export_names_categories_in_the_readers_language(client, auth, world):
    _login(client, auth)
    for chart, row in (("category", ["生鲜", "200", "2.00"]), ("wallet_category", ["生鲜", "5.00", "0.00", "0.00"])):
        exported = client.get(f"/hq/export/{chart}.csv", headers=ZH).get_data(as_text=True).lstrip("\ufeff")
        assert row in list(csv.reader(io.StringIO(exported))), chart


def _queries(client, url, headers=ZH):
    seen = []

    def count(*_args):
        seen.append(1)
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert client.get(url, headers=headers).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def test_naming_categories_costs_the_dashboard_no_query_however_many_there_are(client, auth, world, clock):
    _login(client, auth)
    before = _queries(client, "/hq")
    assert before <= QUERIES_BEFORE_NAMES
    member = make_user(clock.now())
    for n in range(6):  # six more named categories, each with points on a closed day
        make_category(f"cat{n}", f"Category {n}").name_zh = f"类别{n}"
        credit_points(member.id, 10, reason="purchase", source="pos", key=f"cat{n}",
                      now=clock.now() - timedelta(days=2), expires_at=clock.now() + timedelta(days=300),
                      detail={"category": f"cat{n}"})
    analytics.roll_up(clock.now(), rebuild=True)
    db.session.commit()
    page = client.get("/hq", headers=ZH).get_data(as_text=True)
    assert _options(page)["cat5"] == "类别5" and _category_table(page, "按品类的成本")["类别5"] == "10"
    assert _queries(client, "/hq") == before
    assert _queries(client, "/hq/export/category.csv") <= before


def test_the_earning_rules_console_names_a_rules_category(client, auth, tiers, clock):
    category = make_category("fresh", "Fresh food")
    category.name_zh = "生鲜"
    hq = make_user(clock.now(), role="hq", login="hq@example.com")
    save_rule(RuleDraft(kind="category_bonus", name="Fresh bonus", value=30, category_slug="fresh"),
              actor_id=hq.id, now=clock.now())
    db.session.commit()
    auth.login("hq@example.com")
    page = client.get("/console/earning-rules", headers=ZH).get_data(as_text=True)
    applies_to = page.split("Fresh bonus</td>")[1].split("</tr>")[0]
    assert "生鲜" in applies_to and "fresh" not in applies_to
    assert '<option value="fresh">生鲜</option>' in page


def test_the_item_form_offers_categories_by_name_in_the_readers_language(client, auth, tiers, clock):
    category = make_category("fresh", "Fresh food")
    category.name_zh = "生鲜"
    make_user(clock.now(), role="merchandiser", login="merch@example.com")
    db.session.commit()
    auth.login("merch@example.com")
    page = client.get("/console/items/new", headers=ZH).get_data(as_text=True)
    assert f'<option value="{category.id}">生鲜</option>' in page
