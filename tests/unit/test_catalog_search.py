"""Find things (issue 17, item 5): search in both names, sorts, filters that combine, all in
the URL; the page works without JavaScript and HTMX gets the items fragment."""
from datetime import timedelta

from sqlalchemy import update

from mall.catalog.services import browse
from mall.extensions import db
from mall.inventory.models import StockLevel
from mall.points.tiers import all_tiers, status_for_spend
from tests.factories import give_points, make_item, make_user


def _ids(page):
    return [c.item.id for c in page.cards]


def _entry():
    return status_for_spend(0, all_tiers())


def test_search_finds_an_item_by_its_chinese_name_and_by_its_english_name(tiers, clock, client):
    tea = make_item(clock.now(), name="Jasmine tea set")
    tea.name_zh = "茉莉花茶具"
    make_item(clock.now(), name="Travel mug")
    db.session.commit()
    assert _ids(browse(_entry(), 0, search="花茶")) == [tea.id]
    assert _ids(browse(_entry(), 0, search="  JASMINE ")) == [tea.id]

    html = client.get("/catalog", query_string={"q": "茉莉"}).text
    assert "Jasmine tea set" in html and "Travel mug" not in html
    assert 'value="茉莉"' in html  # the box keeps what was typed


def test_search_takes_wildcards_literally(tiers, clock):
    make_item(clock.now(), name="Mug")
    pct = make_item(clock.now(), name="50% off voucher")
    db.session.commit()
    assert _ids(browse(_entry(), 0, search="%")) == [pct.id]
    assert _ids(browse(_entry(), 0, search="_")) == []


def test_sorts_by_points_newest_and_popular(tiers, clock):
    mid = make_item(clock.now() - timedelta(days=2), points=500)
    dear = make_item(clock.now() - timedelta(days=1), points=900)
    cheap = make_item(clock.now() - timedelta(days=3), points=100)
    db.session.execute(update(StockLevel).where(StockLevel.item_id == mid.id)
                       .values(sold=3, received=StockLevel.received + 3))  # three units sold
    db.session.commit()
    status = _entry()
    assert _ids(browse(status, 0, sort="points_asc")) == [cheap.id, mid.id, dear.id]
    assert _ids(browse(status, 0, sort="points_desc")) == [dear.id, mid.id, cheap.id]
    assert _ids(browse(status, 0, sort="newest")) == [dear.id, mid.id, cheap.id]
    assert _ids(browse(status, 0, sort="popular"))[0] == mid.id
    assert _ids(browse(status, 0, sort="nonsense")) == [mid.id, dear.id, cheap.id]


def test_sort_by_points_uses_the_members_tier_price(tiers, clock):
    list_dear = make_item(clock.now(), points=3000, tier_prices={tiers["gold"]: 200})
    plain = make_item(clock.now(), points=1000)
    db.session.commit()
    gold = status_for_spend(500_000, all_tiers())
    assert _ids(browse(gold, 0, sort="points_asc")) == [list_dear.id, plain.id]


def test_search_category_affordable_and_sort_combine_in_the_url(tiers, clock, client, auth):
    member = make_user(clock.now(), login="finder@example.com")
    give_points(member.id, 1000, clock.now())
    cheap_mug = make_item(clock.now(), name="Red mug", points=300, category="kitchen")
    make_item(clock.now(), name="Gold mug", points=5000, category="kitchen")      # too dear
    make_item(clock.now(), name="Blue mug", points=200, category="travel")       # other category
    cheaper_mug = make_item(clock.now(), name="Tiny mug", points=100, category="kitchen")
    make_item(clock.now(), name="Kettle", points=100, category="kitchen")        # no match
    db.session.commit()
    auth.login("finder@example.com")

    args = {"q": "mug", "category": "kitchen", "affordable": "1", "sort": "points_asc"}
    page = client.get("/catalog", query_string=args)
    assert page.status_code == 200
    html = page.text
    assert html.index("Tiny mug") < html.index("Red mug")
    for absent in ("Gold mug", "Blue mug", "Kettle"):
        assert absent not in html
    assert 'value="points_asc" selected' in html and 'value="kitchen" selected' in html

    fragment = client.get("/catalog", query_string=args, headers={"HX-Request": "true"}).text
    assert "<html" not in fragment and "Tiny mug" in fragment
    assert cheap_mug.id and cheaper_mug.id


def test_load_more_keeps_the_search_and_sort(tiers, clock, client, app):
    app.config["MALL_PAGE_SIZE"] = 2
    for n in range(3):
        make_item(clock.now(), name=f"Mug {n}", points=100 + n)
    db.session.commit()
    html = client.get("/catalog", query_string={"q": "mug", "sort": "points_desc"}).text
    assert "q=mug" in html and "sort=points_desc" in html and "page=2" in html


def test_values_out_of_bounds_are_dropped_with_a_message_not_a_failure(tiers, clock, client):
    make_item(clock.now(), name="Mug")
    db.session.commit()
    for args in ({"q": "x" * 5000}, {"sort": "'; DROP TABLE items"}, {"category": "y" * 500},
                 {"affordable": "maybe"}, {"q": "😀\u202e\u200b../%00"}, {"sort": ["points_asc", "x"]}):
        response = client.get("/catalog", query_string=args)
        assert response.status_code == 200, args
    assert "Mug" in client.get("/catalog", query_string={"q": "x" * 5000}).text  # the search is ignored
