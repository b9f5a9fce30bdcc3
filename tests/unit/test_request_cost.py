"""What a checkout request spends outside the order (issue 15) must not cost what it guards:
CSRF stays enforced with the forms' lazily signed token, a session whose version moved
is refused with the statement built once, and form messages still speak the reader's
language when they are finally needed."""
import re

import pytest
from sqlalchemy import func, select

from mall.accounts import services as accounts
from mall.accounts.models import User
from mall.checkout.models import Order
from mall.extensions import db
from tests.factories import PASSWORD, give_points, make_item, make_user


@pytest.fixture
def shop(tiers, clock, client):
    member = make_user(clock.now(), login="buyer@example.com")
    give_points(member.id, 10_000, clock.now())
    item = make_item(clock.now(), points=1000, stock=5)
    db.session.commit()
    client.post("/login", data={"identifier": "buyer@example.com", "password": PASSWORD})
    return member.id, item.id, item.plans[0].id


def _orders() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Order.id)))


def test_with_csrf_on_the_rendered_token_buys_and_a_post_without_it_is_refused(app, client, shop):
    _member, item_id, plan_id = shop
    app.config["WTF_CSRF_ENABLED"] = True  # the app fixture restores the test config
    page = client.get(f"/catalog/{item_id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    form = {"plan_id": plan_id, "quantity": 1, "key": "no-token"}
    assert client.post(f"/catalog/{item_id}/buy", data=form).status_code == 400
    assert _orders() == 0
    assert client.post(f"/catalog/{item_id}/buy", data={**form, "csrf_token": "forged"}).status_code == 400
    assert _orders() == 0
    assert client.post(f"/catalog/{item_id}/buy", data={**form, "key": "with-token", "csrf_token": token}).status_code == 302
    assert _orders() == 1


def test_a_refused_buy_form_shows_a_token_that_works(app, client, shop):
    _member, item_id, plan_id = shop
    app.config["WTF_CSRF_ENABLED"] = True
    page = client.get(f"/catalog/{item_id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    refused = client.post(f"/catalog/{item_id}/buy", data={"plan_id": plan_id, "quantity": 99, "key": "k",
                                                            "csrf_token": token})
    assert refused.status_code == 422
    shown = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', refused.get_data(as_text=True)).group(1)
    assert client.post(f"/catalog/{item_id}/buy", data={"plan_id": plan_id, "quantity": 1, "key": "again",
                                                         "csrf_token": shown}).status_code == 302


def test_a_session_is_refused_once_the_accounts_sessions_are_ended(client, shop):
    member_id, item_id, plan_id = shop
    assert client.get("/orders").status_code == 200
    accounts.end_sessions(member_id)  # "log out everywhere" from another device
    db.session.commit()
    response = client.post(f"/catalog/{item_id}/buy", data={"plan_id": plan_id, "quantity": 1, "key": "late"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _orders() == 0


def test_a_frozen_account_cannot_buy(client, shop, clock):
    member_id, item_id, plan_id = shop
    db.session.get(User, member_id).frozen_at = clock.now()  # frozen, its session version unchanged
    db.session.commit()
    response = client.post(f"/catalog/{item_id}/buy", data={"plan_id": plan_id, "quantity": 1, "key": "frozen"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _orders() == 0


def test_form_messages_are_in_the_readers_language(client, shop):
    _member, item_id, _plan = shop
    client.post("/locale", data={"locale": "zh_Hans"})
    refused = client.post(f"/catalog/{item_id}/buy", data={"plan_id": 999_999, "quantity": 1, "key": "k"})
    assert refused.status_code == 422
    assert "不是有效的选择" in refused.get_data(as_text=True)  # WTForms' own message, in Chinese
