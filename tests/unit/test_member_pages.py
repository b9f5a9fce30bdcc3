"""The member's pages through the test client: what is on the screen."""
import pytest

from mall.extensions import db
from mall.engagement.earning import earn_for_purchase
from tests.factories import PASSWORD, give_points, make_item, make_user


@pytest.fixture
def member(tiers, clock, client):
    user = make_user(clock.now(), login="page@example.com", name="Ana")
    db.session.commit()
    client.post("/login", data={"identifier": "page@example.com", "password": PASSWORD})
    return user


def test_a_new_member_sees_empty_states_not_blank_pages(client, member):
    home = client.get("/").get_data(as_text=True)
    assert "No points yet." in home and "Pin a reward you want" in home
    assert "No points expire in the next 30 days." in home
    assert "Your statement is empty." in client.get("/points/statement").get_data(as_text=True)
    assert "No orders yet." in client.get("/orders").get_data(as_text=True)
    assert "Your cart is empty." in client.get("/cart").get_data(as_text=True)


def test_home_warns_only_about_points_expiring_within_30_days(client, member, clock):
    give_points(member.id, 300, clock.now(), days_valid=20)
    give_points(member.id, 700, clock.now(), days_valid=200)
    db.session.commit()
    home = client.get("/").get_data(as_text=True)
    assert "1,000" in home
    assert "300 points expire by Jun 21, 2026" in home


def test_tier_progress_and_locked_item_say_how_much_more_to_spend(client, member, tiers, clock):
    earn_for_purchase(member.id, 380_000, minor_per_point=100, source="pos", key="r1", now=clock.now())
    duvet = make_item(clock.now(), name="Duvet", points=900, min_tier=tiers["gold"])
    db.session.commit()
    home = client.get("/").get_data(as_text=True)
    assert "Silver → Gold" in home and "Spend ¥1,200 more in 12 months to reach Gold" in home
    item = client.get(f"/catalog/{duvet.id}").get_data(as_text=True)
    assert "Reach Gold: ¥1,200 more spend" in item and 'role="progressbar"' in item
    assert "Buy now" not in item


def test_pinned_target_shows_progress_on_home(client, member, clock):
    give_points(member.id, 3200, clock.now())
    item = make_item(clock.now(), name="Kettle", points=5000)
    db.session.commit()
    client.post(f"/catalog/{item.id}/target")
    home = client.get("/").get_data(as_text=True)
    assert "Kettle" in home and "3,200 / 5,000 points" in home and "1,800 points to go." in home
    client.post(f"/catalog/{item.id}/target", data={"unpin": "1"})
    assert "Pin a reward you want" in client.get("/").get_data(as_text=True)


def test_load_more_returns_only_the_next_tiles_to_htmx_and_a_whole_page_otherwise(client, member, clock):
    for n in range(14):
        make_item(clock.now(), name=f"Thing {n:02d}")
    db.session.commit()
    fragment = client.get("/catalog?page=2", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and "Thing 12" in fragment and "Thing 00" not in fragment
    boosted = client.get("/catalog?page=2", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.get_data(as_text=True)
    first = client.get("/catalog").get_data(as_text=True)
    assert "Load more" in first and "14 rewards" in first


def test_statement_pages_and_filters_and_says_why(client, member, clock):
    for n in range(23):
        give_points(member.id, 10 + n, clock.now())
    db.session.commit()
    first = client.get("/points/statement").get_data(as_text=True)
    assert "Page 1 of 2" in first and "Welcome bonus for joining" in first
    assert "Page 2 of 2" in client.get("/points/statement?page=2").get_data(as_text=True)
    spent = client.get("/points/statement?kind=spent", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in spent and "Nothing of this type yet." in spent
