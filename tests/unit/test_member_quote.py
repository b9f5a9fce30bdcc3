"""The item page's quote: plan, quantity, balance after, "need N more" and the Buy button
agree for every plan kind, with and without JavaScript (issue 17, item 1)."""
import re

import pytest
from sqlalchemy import func, select

from mall.checkout.models import Order
from mall.extensions import db
from tests.factories import give_points, make_item, make_user


@pytest.fixture
def saver(tiers, clock):
    user = make_user(clock.now(), login="saver@example.com")
    give_points(user.id, 1500, clock.now())
    db.session.commit()
    return user


@pytest.fixture
def shop_item(clock):
    # points 1,800 | 1,200 points + ¥12 | ¥30 with up to 50% paid in points (1,500 points)
    item = make_item(clock.now(), points=1800, plans=[("points_cash", 1200, 1200, None), ("cash_offset", 0, 3000, 50)])
    db.session.commit()
    return item


def _buy_disabled(html: str) -> bool:
    button = re.search(r'<button type="submit" class="primary"[^>]*>', html).group(0)
    return "disabled" in button


def _quote(client, item, plan, **data):
    return client.post(f"/catalog/{item.id}/quote", data={"plan_id": plan.id, "quantity": 1, "key": "k", **data},
                       headers={"HX-Request": "true"}).get_data(as_text=True)


def test_an_unaffordable_points_plan_says_how_many_more_disables_buy_and_links_to_ways_to_earn(saver, shop_item, auth, client):
    auth.login("saver@example.com")
    page = client.get(f"/catalog/{shop_item.id}").get_data(as_text=True)
    assert "You need 300 more points for this." in page
    assert "Balance after" not in page and "-300" not in page and "−" not in page
    assert _buy_disabled(page) and 'href="/tasks"' in page and "Ways to earn points" in page
    assert page.count("more points") == 1  # the card's own note gives way to the quote


def test_an_affordable_points_plus_cash_plan_shows_one_balance_after_and_an_enabled_buy(saver, shop_item, auth, client):
    auth.login("saver@example.com")
    fragment = _quote(client, shop_item, shop_item.plans[1])
    assert "1,200" in fragment and "¥12" in fragment
    assert re.search(r"Balance after</dt><dd>300</dd>", fragment)
    assert "more points" not in fragment and not _buy_disabled(fragment)


def test_the_offset_plan_quotes_the_points_chosen_and_refuses_only_beyond_the_cap(saver, shop_item, auth, client):
    auth.login("saver@example.com")
    fragment = _quote(client, shop_item, shop_item.plans[2], offset_points=1000)
    assert "¥20" in fragment and re.search(r"Balance after</dt><dd>500</dd>", fragment) and not _buy_disabled(fragment)
    too_many = _quote(client, shop_item, shop_item.plans[2], offset_points=1600)
    assert "between 0 and 1,500" in too_many or "between 0 and 1500" in too_many


def test_without_javascript_update_total_reprices_the_whole_page_for_the_chosen_plan(saver, shop_item, auth, client):
    auth.login("saver@example.com")
    page = client.post(f"/catalog/{shop_item.id}/quote",
                       data={"plan_id": shop_item.plans[1].id, "quantity": 2, "key": "k"}).get_data(as_text=True)
    assert "<html" in page and "Update total" in page
    assert "You need 900 more points for this." in page and _buy_disabled(page)
    assert f'value="{shop_item.plans[1].id}" checked' in page


def test_a_refused_buy_keeps_the_quote_and_formats_the_numbers(saver, shop_item, auth, client):
    auth.login("saver@example.com")
    response = client.post(f"/catalog/{shop_item.id}/buy",
                           data={"plan_id": shop_item.plans[0].id, "quantity": 1, "key": "refused"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "You need 1,800 points but have 1,500." in page
    assert "Points used" in page and "You need 300 more points for this." in page
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_a_locked_item_does_not_claim_a_price_for_the_members_tier(tiers, saver, auth, client, clock):
    gold = max(tiers.values(), key=lambda t: t.rank)
    item = make_item(clock.now(), points=100, min_tier=gold)
    db.session.commit()
    auth.login("saver@example.com")
    page = client.get(f"/catalog/{item.id}").get_data(as_text=True)
    assert "Your price as a" not in page
