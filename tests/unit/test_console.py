"""The merchandiser's console: items, plans, tier prices, stock, substitutes, history."""
import pytest
from sqlalchemy import func, select

from mall.catalog.models import Item, ItemChange
from mall.extensions import db
from mall.inventory.models import StockLevel, StockMovement
from tests.factories import PASSWORD, give_points, make_category, make_item, make_user


@pytest.fixture
def merch(tiers, clock, client):
    user = make_user(clock.now(), role="merchandiser", login="merch@example.com")
    make_category("home", "Home")
    db.session.commit()
    client.post("/login", data={"identifier": "merch@example.com", "password": PASSWORD})
    return user


def _form(tiers, **changes):
    category = db.session.scalar(select(func.min(Item.category_id))) or 1
    form = {"sku": "MUG-1", "name": "Mug", "name_zh": "杯子", "description": "A mug.", "category_id": str(category),
            "min_tier_id": "0", "points_price": "1500", f"tier_price_{tiers['gold'].id}": "1200",
            "per_member_limit": "2", "plans-0-kind": "points", "plans-1-kind": "points_cash",
            "plans-1-points": "800", "plans-1-cash": "9.90", "plans-2-kind": ""}
    form.update(changes)
    return form


def test_a_new_item_is_hidden_until_published_and_every_change_is_recorded(client, merch, tiers):
    from mall.catalog.models import Category
    category = db.session.scalar(select(Category.id))
    response = client.post("/console/items/new", data=_form(tiers, category_id=str(category)))
    assert response.status_code == 302
    item = db.session.scalar(select(Item).where(Item.sku == "MUG-1"))
    assert not item.published
    assert [(p.kind, p.points, p.cash_minor) for p in item.plans] == [("points", 0, 0), ("points_cash", 800, 990)]
    assert {tp.tier_id: tp.points for tp in item.tier_prices} == {tiers["gold"].id: 1200}
    assert client.get(f"/catalog/{item.id}").status_code == 404
    client.post(f"/console/items/{item.id}/publish", data={"publish": "y"})
    assert client.get(f"/catalog/{item.id}").status_code == 200
    client.post(f"/console/items/{item.id}", data=_form(tiers, category_id=str(category), points_price="1800"))
    changes = db.session.scalars(select(ItemChange).where(ItemChange.item_id == item.id).order_by(ItemChange.id)).all()
    assert [c.action for c in changes] == ["created", "published", "edited"]
    assert changes[-1].before == {"points_price": 1500} and changes[-1].after == {"points_price": 1800}
    assert changes[-1].actor_id == merch.id
    page = client.get(f"/console/items/{item.id}/history").get_data(as_text=True)
    assert "points_price" in page and "1500 → 1800" in page


@pytest.mark.parametrize("change,message", [
    ({"points_price": "-5"}, "The points price must be a whole number above zero."),
    ({"plans-1-cash": ""}, "Points + cash needs both points and cash above zero."),
    ({"plans-1-cash": "abc"}, "Enter an amount like 9.90."),
    ({"plans-2-kind": "cash_offset", "plans-2-cash": "39.90"}, "The points offset cap must be between 1% and 100%."),
    ({"plans-2-kind": "cash_offset", "plans-2-max_offset_pct": "30"}, "A cash price plan needs a cash price above zero."),
    ({"available_from": "2026-07-01T10:00", "available_until": "2026-06-01T10:00"}, "The window must end after it starts."),
    ({"per_member_limit": "0"}, "The limit per member must be 1 or more"),
    ({"plans-0-kind": "", "plans-1-kind": ""}, "An item needs at least one way to pay."),
])
def test_bad_item_input_is_refused_next_to_the_field_and_writes_nothing(client, merch, tiers, change, message):
    from mall.catalog.models import Category
    category = db.session.scalar(select(Category.id))
    response = client.post("/console/items/new", data=_form(tiers, category_id=str(category), **change))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True).replace("&#39;", "'")
    assert db.session.scalar(select(func.count()).select_from(Item)) == 0


def test_a_duplicate_sku_is_refused(client, merch, tiers, clock):
    existing = make_item(clock.now())
    db.session.commit()
    response = client.post("/console/items/new", data=_form(tiers, sku=existing.sku, category_id=str(existing.category_id)))
    assert response.status_code == 422 and "Another item already has that SKU." in response.get_data(as_text=True)


def test_receiving_and_adjusting_stock_leave_a_movement_history(client, merch, clock):
    item = make_item(clock.now(), stock=0)
    db.session.commit()
    client.post(f"/console/items/{item.id}/stock", data={"action": "receive", "receive-quantity": "12",
                                                          "receive-reference": "PO-77"})
    client.post(f"/console/items/{item.id}/stock", data={"action": "adjust", "adjust-change": "-2",
                                                          "adjust-reason": "damaged in transit"})
    db.session.expire_all()
    assert db.session.get(StockLevel, item.id).received == 10
    kinds = [(m.kind, m.quantity, m.reference or m.reason) for m in
             db.session.scalars(select(StockMovement).where(StockMovement.item_id == item.id).order_by(StockMovement.id))]
    assert kinds == [("receive", 12, "PO-77"), ("adjust", -2, "damaged in transit")]
    page = client.get(f"/console/items/{item.id}/stock").get_data(as_text=True)
    assert "PO-77" in page and "damaged in transit" in page


@pytest.mark.parametrize("form,message", [
    ({"action": "receive", "receive-quantity": "-3", "receive-reference": "X"}, "Receive at least 1 unit."),
    ({"action": "adjust", "adjust-change": "-50", "adjust-reason": "count"}, "already held or sold"),
    ({"action": "adjust", "adjust-change": "-1", "adjust-reason": ""}, "Say why the stock changes."),
    # Past the INTEGER column: PostgreSQL would refuse the UPDATE with a 500 (DataError).
    ({"action": "receive", "receive-quantity": "2147483647", "receive-reference": "X"},
     "That would take the stock past 2147483647 units"),
    ({"action": "adjust", "adjust-change": "2147483647", "adjust-reason": "count"},
     "That would take the stock past 2147483647 units"),
])
def test_bad_stock_input_is_refused_and_changes_nothing(client, merch, clock, form, message):
    item = make_item(clock.now(), stock=10)
    member = make_user(clock.now())
    give_points(member.id, 5000, clock.now())
    from mall.checkout.orders import place_order
    from mall.checkout.quotes import LineRequest
    place_order(member.id, [LineRequest(item.id, item.plans[0].id, 2)], key="k", now=clock.now(),
                hold_minutes=10, card_payments=False, points_per_unit=100)
    db.session.commit()
    response = client.post(f"/console/items/{item.id}/stock", data=form)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(StockLevel, item.id).received == 10


def test_substitutes_warn_about_cycles_and_tiers_and_refuse_the_item_itself(client, merch, tiers, clock):
    a = make_item(clock.now(), name="Kettle")
    b = make_item(clock.now(), name="Teapot", min_tier=tiers["gold"])
    c = make_item(clock.now(), name="Toaster", published=False)
    db.session.commit()
    page = client.post(f"/console/items/{a.id}/substitutes", data={"first": b.id, "second": c.id, "third": 0})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Substitutes saved." in text
    assert "Teapot is for higher tiers than Kettle" in text and "Toaster is not published" in text
    page = client.post(f"/console/items/{b.id}/substitutes", data={"first": a.id, "second": c.id, "third": 0})
    assert "the substitutes form a cycle" in page.get_data(as_text=True)
    # the warnings stay on the page when the merchandiser comes back to it
    assert "the substitutes form a cycle" in client.get(f"/console/items/{b.id}/substitutes").get_data(as_text=True)
    one = client.post(f"/console/items/{c.id}/substitutes", data={"first": a.id, "second": 0, "third": 0})
    assert one.status_code == 422 and "Link two or three substitutes, or none." in one.get_data(as_text=True)
    refused = client.post(f"/console/items/{a.id}/substitutes", data={"first": a.id, "second": b.id, "third": 0})
    assert refused.status_code == 422  # not even offered as a choice
    from mall.catalog.management import InvalidItem, substitutes
    from mall.catalog.substitutes import set_substitutes
    with pytest.raises(InvalidItem, match="own substitute"):
        set_substitutes(a.id, [a.id, b.id], actor_id=None, now=clock.now())
    with pytest.raises(InvalidItem, match="listed once"):
        set_substitutes(a.id, [b.id, b.id], actor_id=None, now=clock.now())
    assert [s.substitute_id for s in substitutes(a.id)] == [b.id, c.id]  # refusals changed nothing
    assert client.post(f"/console/items/{a.id}/substitutes", data={"first": 0, "second": 0, "third": 0}).status_code == 200
    assert substitutes(a.id) == []
    history = client.get(f"/console/items/{a.id}/history").get_data(as_text=True)
    assert "Substitutes changed" in history


def test_a_sold_out_item_offers_its_substitutes_the_member_may_take(client, tiers, clock):
    from mall.catalog.substitutes import set_substitutes
    sold_out = make_item(clock.now(), name="Blender", stock=0)
    fine = make_item(clock.now(), name="Juicer", points=700)
    locked = make_item(clock.now(), name="Mixer", min_tier=tiers["diamond"])
    empty = make_item(clock.now(), name="Grinder", stock=0)
    set_substitutes(sold_out.id, [locked.id, empty.id, fine.id], actor_id=None, now=clock.now())
    member = make_user(clock.now(), login="sub@example.com")
    give_points(member.id, 5000, clock.now())
    db.session.commit()
    client.post("/login", data={"identifier": "sub@example.com", "password": PASSWORD})
    page = client.get(f"/catalog/{sold_out.id}").get_data(as_text=True)
    assert "You might like instead" in page and "Juicer" in page and "700 pts" in page
    assert "Mixer" not in page and "Grinder" not in page
    # a checkout that fails for stock offers them in the same HTMX response
    from mall.inventory.models import StockLevel
    db.session.get(StockLevel, sold_out.id).received = 1
    db.session.commit()
    other = make_user(clock.now())
    give_points(other.id, 5000, clock.now())
    from mall.checkout.orders import place_order
    from mall.checkout.quotes import LineRequest
    place_order(other.id, [LineRequest(sold_out.id, sold_out.plans[0].id, 1)], key="o", now=clock.now(),
                hold_minutes=10, card_payments=False, points_per_unit=100)
    db.session.commit()
    response = client.post(f"/catalog/{sold_out.id}/buy", data={"plan_id": sold_out.plans[0].id, "quantity": 1, "key": "z"},
                           headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "<html" not in body and "Juicer" in body


def _png(size=(40, 30)):
    import io as _io
    from PIL import Image
    buffer = _io.BytesIO()
    Image.new("RGB", size, (200, 30, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def test_an_uploaded_image_is_stored_under_a_safe_name_with_a_thumbnail(client, merch, clock, app):
    import io as _io
    from pathlib import Path
    item = make_item(clock.now())
    db.session.commit()
    client.post(f"/console/items/{item.id}/image", content_type="multipart/form-data",
                data={"image": (_io.BytesIO(_png()), "../../etc/My Photo.png")})
    db.session.expire_all()
    stored = db.session.get(Item, item.id).image
    assert stored.startswith("items/") and stored.endswith(".webp") and "Photo" not in stored
    folder = Path(app.config["MALL_UPLOAD_DIR"])
    assert (folder / stored).exists() and (folder / stored.replace(".webp", "-thumb.webp")).exists()
    served = client.get(f"/catalog/media/{stored}")
    assert served.status_code == 200 and served.mimetype == "image/webp"
    assert ItemChange.query.filter_by(item_id=item.id, action="image").count() == 1


@pytest.mark.parametrize("payload,name,message", [
    (b"GIF89a not really", "cat.png", "not an image we can read"),
    (b"%PDF-1.4", "doc.pdf", "Use a JPEG, PNG or WebP image."),
])
def test_a_file_that_is_not_an_allowed_image_is_refused(client, merch, clock, payload, name, message):
    import io as _io
    item = make_item(clock.now())
    db.session.commit()
    response = client.post(f"/console/items/{item.id}/image", content_type="multipart/form-data",
                           data={"image": (_io.BytesIO(payload), name)}, follow_redirects=True)
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Item, item.id).image is None


def test_categories_can_be_added_and_a_taken_short_name_is_refused(client, merch):
    assert client.post("/console/categories", data={"slug": "garden", "name": "Garden", "name_zh": "园艺"}).status_code == 302
    refused = client.post("/console/categories", data={"slug": "garden", "name": "Again"})
    assert refused.status_code == 422 and "That short name is taken." in refused.get_data(as_text=True)
    assert "Garden" in client.get("/console/categories").get_data(as_text=True)


def test_a_schedule_is_entered_in_local_time_and_survives_an_unchanged_save(client, merch, tiers, clock):
    from datetime import datetime, timezone
    from mall.catalog.models import Category
    category = db.session.scalar(select(Category.id))
    form = _form(tiers, category_id=str(category), available_from="2026-06-10T10:00", available_until="2026-06-20T22:00")
    assert client.post("/console/items/new", data=form).status_code == 302
    item = db.session.scalar(select(Item).where(Item.sku == "MUG-1"))
    assert item.available_from == datetime(2026, 6, 10, 2, 0, tzinfo=timezone.utc)  # Shanghai is UTC+8
    page = client.get(f"/console/items/{item.id}").get_data(as_text=True)
    assert 'value="2026-06-10T10:00"' in page and 'value="2026-06-20T22:00"' in page
    client.post(f"/console/items/{item.id}", data=form)
    actions = [c.action for c in ItemChange.query.filter_by(item_id=item.id)]
    assert actions == ["created"]  # nothing changed, nothing logged
    client.post(f"/console/items/{item.id}/publish", data={"publish": "y"})
    assert client.get(f"/catalog/{item.id}").status_code == 404  # published, but not on sale before its window
    client.post(f"/console/items/{item.id}/publish", data={})
    assert not db.session.get(Item, item.id).published
    assert [c.action for c in ItemChange.query.filter_by(item_id=item.id).order_by(ItemChange.id)] == [
        "created", "published", "unpublished"]


def test_the_item_list_searches_sorts_filters_and_paginates(client, merch, clock):
    for n, points in enumerate([300, 100, 200]):
        make_item(clock.now(), name=f"Lamp {n}", points=points, stock=10)
    low = make_item(clock.now(), name="Rug", points=50, stock=2)
    hidden = make_item(clock.now(), name="Vase", points=80, published=False)
    for n in range(30):
        make_item(clock.now(), name=f"Filler {n:02d}", points=5000 + n)
    db.session.commit()
    import re as _re

    def names(url):
        body = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
        assert "<html" not in body  # only the rows fragment
        return _re.findall(r'/console/items/\d+">([^<]+)</a>', body)

    assert names("/console?q=lamp&sort=points") == ["Lamp 1", "Lamp 2", "Lamp 0"]
    assert names("/console?q=lamp&sort=points&dir=desc") == ["Lamp 0", "Lamp 2", "Lamp 1"]
    assert names("/console?state=low") == ["Rug"]
    assert names("/console?state=hidden") == ["Vase"]
    first = names("/console?sort=name")
    assert len(first) == 25 and first[0] == "Filler 00"
    second = client.get("/console?sort=name&page=2").get_data(as_text=True)
    assert "Page 2 of 2" in second and "Vase" in second
    assert "No items match" in client.get("/console?q=nothing-like-this").get_data(as_text=True)
    assert low and hidden


def test_an_image_over_the_size_limit_is_refused(client, merch, clock, monkeypatch):
    import io as _io
    from mall.catalog import images
    monkeypatch.setattr(images, "MAX_BYTES", 1000)
    item = make_item(clock.now())
    db.session.commit()
    response = client.post(f"/console/items/{item.id}/image", content_type="multipart/form-data",
                           data={"image": (_io.BytesIO(_png((400, 400)) + b"\0" * 2000), "big.png")},
                           follow_redirects=True)
    assert "The image is larger than 5 MB." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Item, item.id).image is None


def test_the_low_stock_threshold_flags_the_item_and_is_recorded(client, merch, clock):
    item = make_item(clock.now(), stock=8)
    db.session.commit()
    assert item.name not in client.get("/console?state=low").get_data(as_text=True)
    client.post(f"/console/items/{item.id}/stock", data={"action": "threshold", "low-threshold": "8"})
    assert item.name in client.get("/console?state=low").get_data(as_text=True)
    change = ItemChange.query.filter_by(item_id=item.id, action="low_stock_threshold").one()
    assert change.before == {"low_stock_threshold": 5} and change.after == {"low_stock_threshold": 8}
    refused = client.post(f"/console/items/{item.id}/stock", data={"action": "threshold", "low-threshold": "-1"})
    assert refused.status_code == 422 and "Use 0 or more." in refused.get_data(as_text=True)


def test_a_member_switches_to_a_substitute_with_one_tap_after_a_sold_out_checkout(client, tiers, clock):
    import re as _re
    from mall.catalog.substitutes import set_substitutes
    from mall.checkout.orders import place_order
    from mall.checkout.quotes import LineRequest
    hot = make_item(clock.now(), name="Blender", stock=1)
    first = make_item(clock.now(), name="Juicer", points=700)
    second = make_item(clock.now(), name="Toaster", points=800)
    set_substitutes(hot.id, [first.id, second.id], actor_id=None, now=clock.now())
    rival = make_user(clock.now())
    give_points(rival.id, 5000, clock.now())
    member = make_user(clock.now(), login="tap@example.com")
    give_points(member.id, 5000, clock.now())
    db.session.commit()
    client.post("/login", data={"identifier": "tap@example.com", "password": PASSWORD})
    page = client.get(f"/catalog/{hot.id}").get_data(as_text=True)  # still in stock: no offers yet
    assert "You might like instead" not in page
    place_order(rival.id, [LineRequest(hot.id, hot.plans[0].id, 1)], key="r", now=clock.now(),
                hold_minutes=10, card_payments=False, points_per_unit=100)
    db.session.commit()
    response = client.post(f"/catalog/{hot.id}/buy", data={"plan_id": hot.plans[0].id, "quantity": 1, "key": "m"},
                           headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "Take Juicer instead" in body and "Take Toaster instead" in body
    form = _re.search(r'<form method="post" action="/catalog/%d/buy".*?</form>' % first.id, body, _re.S).group(0)
    fields = dict(_re.findall(r'name="(\w+)" value="([^"]*)"', form))
    switched = client.post(f"/catalog/{first.id}/buy", data=fields, headers={"HX-Request": "true"})
    assert switched.status_code == 200 and switched.headers["HX-Redirect"].startswith("/orders/")
    from mall.checkout.models import Order
    order = db.session.scalar(select(Order).where(Order.member_id == member.id))
    assert order.status == "ready" and order.lines[0].item_name == "Juicer" and order.points_total == 700


def test_every_kind_of_price_plan_can_be_set_and_edited(client, merch, tiers):
    from mall.catalog.models import Category
    category = db.session.scalar(select(Category.id))
    form = _form(tiers, category_id=str(category), **{"plans-2-kind": "cash_offset", "plans-2-cash": "39.90",
                                                       "plans-2-max_offset_pct": "30"})
    assert client.post("/console/items/new", data=form).status_code == 302
    item = db.session.scalar(select(Item).where(Item.sku == "MUG-1"))
    assert [(p.kind, p.points, p.cash_minor, p.max_offset_pct) for p in item.plans] == [
        ("points", 0, 0, None), ("points_cash", 800, 990, None), ("cash_offset", 0, 3990, 30)]
    form.update({"plans-1-kind": "", "plans-2-max_offset_pct": "50"})  # drop one, change another
    assert client.post(f"/console/items/{item.id}", data=form).status_code == 302
    db.session.expire_all()
    item = db.session.get(Item, item.id)
    assert [(p.kind, p.max_offset_pct) for p in item.plans] == [("points", None), ("cash_offset", 50)]
    change = ItemChange.query.filter_by(item_id=item.id, action="edited").one()
    assert len(change.before["plans"]) == 3 and len(change.after["plans"]) == 2


def test_a_category_can_be_renamed_and_bad_names_are_refused(client, merch):
    from mall.catalog.models import Category
    client.post("/console/categories", data={"slug": "garden", "name": "Garden"})
    garden = db.session.scalar(select(Category).where(Category.slug == "garden"))
    assert client.post(f"/console/categories/{garden.id}", data={"slug": "outdoor", "name": "Outdoor",
                                                                 "name_zh": "户外"}).status_code == 302
    db.session.expire_all()
    assert (garden.slug, garden.name, garden.name_zh) == ("outdoor", "Outdoor", "户外")
    taken = client.post(f"/console/categories/{garden.id}", data={"slug": "home", "name": "X"})
    assert taken.status_code == 422 and "That short name is taken." in taken.get_data(as_text=True)
    bad = client.post(f"/console/categories/{garden.id}", data={"slug": "out door!", "name": "X"})
    assert bad.status_code == 422 and "Use letters, digits and dashes only." in bad.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Category, garden.id).name == "Outdoor"


def test_a_cart_checkout_that_fails_for_stock_offers_the_substitutes_inline(client, tiers, clock):
    from mall.catalog.substitutes import set_substitutes
    from mall.checkout.orders import place_order
    from mall.checkout.quotes import LineRequest
    hot = make_item(clock.now(), name="Blender", stock=1)
    set_substitutes(hot.id, [make_item(clock.now(), name="Juicer").id, make_item(clock.now(), name="Mixer").id],
                    actor_id=None, now=clock.now())
    member = make_user(clock.now(), login="cart@example.com")
    give_points(member.id, 5000, clock.now())
    rival = make_user(clock.now())
    give_points(rival.id, 5000, clock.now())
    db.session.commit()
    client.post("/login", data={"identifier": "cart@example.com", "password": PASSWORD})
    client.post(f"/catalog/{hot.id}/cart", data={"plan_id": hot.plans[0].id, "quantity": 1, "key": "c"})
    place_order(rival.id, [LineRequest(hot.id, hot.plans[0].id, 1)], key="r", now=clock.now(),
                hold_minutes=10, card_payments=False, points_per_unit=100)
    db.session.commit()
    response = client.post("/cart/checkout", data={"key": "k"}, headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "<html" not in body
    assert "Take Juicer instead" in body and "Take Mixer instead" in body


def test_the_sold_out_gate_loads_the_substitutes_in_place(client, tiers, clock, app, monkeypatch):
    from mall.catalog.substitutes import set_substitutes
    hot = make_item(clock.now(), name="Blender", stock=0)
    set_substitutes(hot.id, [make_item(clock.now(), name="Juicer").id, make_item(clock.now(), name="Mixer").id],
                    actor_id=None, now=clock.now())
    member = make_user(clock.now(), login="gate@example.com")
    db.session.commit()
    client.post("/login", data={"identifier": "gate@example.com", "password": PASSWORD})
    monkeypatch.setattr(app.extensions["mall.admission"], "gate", lambda item_id, intent: True)
    gate = client.post(f"/catalog/{hot.id}/buy", data={"plan_id": hot.plans[0].id, "quantity": 1, "key": "g"},
                       headers={"HX-Request": "true"})
    body = gate.get_data(as_text=True)
    assert gate.status_code == 409 and f'hx-get="/catalog/{hot.id}/offers"' in body
    offers = client.get(f"/catalog/{hot.id}/offers", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Take Juicer instead" in offers and "Take Mixer instead" in offers and "<html" not in offers
    assert member


def test_a_merchandiser_makes_a_right_item_with_what_it_grants_and_a_csv_carries_each_kind(client, merch, tiers, clock):
    from mall.rights.services import spec_for
    make_item(clock.now())
    db.session.commit()
    form = _form(tiers, sku="RIGHT-1", name="Priority purchase", kind="right", right_kind="", right_days="")
    refused = client.post("/console/items/new", data=form)
    assert refused.status_code == 422 and "Choose which right the item grants." in refused.get_data(as_text=True)
    response = client.post("/console/items/new", data={**form, "right_kind": "priority_purchase", "right_days": "90"})
    assert response.status_code == 302
    item = db.session.scalar(select(Item).where(Item.sku == "RIGHT-1"))
    assert item.kind == "right"
    assert (spec_for(item.id).right_kind, spec_for(item.id).valid_days) == ("priority_purchase", 90)
    exported = client.get("/console/export.csv").get_data(as_text=True)
    header, *rows = exported.splitlines()
    assert "kind" in header.split(",")
    assert any(r.startswith("RIGHT-1,") and ",right," in r for r in rows)


def test_stock_up_to_the_column_limit_is_received_and_one_more_unit_is_refused(client, merch, clock):
    item = make_item(clock.now(), stock=10)
    db.session.commit()
    ok = client.post(f"/console/items/{item.id}/stock", data={"action": "receive", "receive-quantity": str(2**31 - 11),
                                                               "receive-reference": "PO-1"})
    assert ok.status_code == 302
    refused = client.post(f"/console/items/{item.id}/stock", data={"action": "adjust", "adjust-change": "1",
                                                                    "adjust-reason": "count"})
    assert refused.status_code == 422 and "past 2147483647 units" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(StockLevel, item.id).received == 2**31 - 1
    assert db.session.scalar(select(func.count()).select_from(StockMovement).where(
        StockMovement.item_id == item.id, StockMovement.kind == "adjust")) == 0


def test_a_negative_adjustment_resyncs_the_admission_counter_with_the_stock_as_committed(app, clock):
    """A release committing between the adjustment and its commit must not be overwritten by
    a count taken before it (the sold-out gate would refuse while stock exists)."""
    from sqlalchemy import update
    from mall.inventory.services import adjust_stock
    from mall.unit_of_work import commit
    item = make_item(clock.now(), stock=10)
    db.session.execute(update(StockLevel).where(StockLevel.item_id == item.id).values(reserved=3))
    db.session.commit()
    resyncs = []

    class Recording:
        def resync(self, item_id, available):
            resyncs.append((item_id, available))

        def give_back(self, item_id, quantity):
            pass

    app.extensions["mall.admission"], before = Recording(), app.extensions["mall.admission"]
    try:
        adjust_stock(item.id, -2, reason="damaged", now=clock.now())  # 8 received - 3 held: 5
        db.session.execute(update(StockLevel).where(StockLevel.item_id == item.id).values(reserved=0))  # released
        commit()
    finally:
        app.extensions["mall.admission"] = before
    assert resyncs == [(item.id, 8)]
