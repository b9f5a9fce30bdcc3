"""The merchant's purchase categories in the console (issue 12): receipt lines outside the
catalogue (gift cards, tobacco), added, renamed, marked excluded from earning, and deleted
while no purchase uses them."""
import html

import pytest
from sqlalchemy import select

from mall.extensions import db
from mall.instore import purchases
from mall.instore.models import PurchaseCategory
from mall.instore.purchases import LineInput
from tests.factories import PASSWORD, make_category, make_user
from tests.instore_world import make_store


@pytest.fixture
def merch(tiers, clock, client):
    user = make_user(clock.now(), role="merchandiser", login="merch@example.com")
    make_category("kitchen", "Kitchen")
    db.session.commit()
    client.post("/login", data={"identifier": "merch@example.com", "password": PASSWORD})
    return user


def _row(slug):
    return db.session.scalar(select(PurchaseCategory).where(PurchaseCategory.slug == slug))


def test_the_page_starts_empty_and_a_category_can_be_added(client, merch):
    page = client.get("/console/purchase-categories").get_data(as_text=True)
    assert "No purchase categories yet" in page
    assert "/console/purchase-categories" in client.get("/console").get_data(as_text=True)  # linked from the console
    response = client.post("/console/purchase-categories",
                           data={"slug": "gift-cards", "name": "Gift cards", "name_zh": "礼品卡", "excluded": "y"})
    assert response.status_code == 302
    row = _row("gift-cards")
    assert (row.name, row.name_zh, row.excluded) == ("Gift cards", "礼品卡", True)
    page = client.get("/console/purchase-categories").get_data(as_text=True)
    assert "gift-cards" in page and "礼品卡" in page and "No purchase categories yet" not in page


@pytest.mark.parametrize("slug, message", [
    ("gift-cards", "There is already a purchase category with this slug."),
    ("kitchen", "A catalogue category uses this slug; choose another."),
    ("Gift Cards!", "Use lower-case letters, digits, - or _ (up to 40)."),
], ids=["taken slug", "a catalogue category's slug", "not a slug"])
def test_a_taken_or_clashing_slug_is_refused_next_to_the_field(client, merch, slug, message):
    client.post("/console/purchase-categories", data={"slug": "gift-cards", "name": "Gift cards"})
    refused = client.post("/console/purchase-categories", data={"slug": slug, "name": "Again"})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert 'id="slug-error"' in page and message in page
    assert db.session.scalar(select(db.func.count()).select_from(PurchaseCategory)) == 1


def test_editing_keeps_the_slug_and_changes_names_and_exclusion(client, merch):
    client.post("/console/purchase-categories", data={"slug": "tobacco", "name": "Tobacco"})
    row = _row("tobacco")
    assert not row.excluded
    response = client.post(f"/console/purchase-categories/{row.id}",
                           data={"slug": "other", "name": "Tobacco & lighters", "name_zh": "烟草", "excluded": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    row = _row("tobacco")
    assert (row.name, row.name_zh, row.excluded) == ("Tobacco & lighters", "烟草", True)
    empty = client.post(f"/console/purchase-categories/{row.id}", data={"name": ""})
    assert empty.status_code == 422 and "Give the category a name." in empty.get_data(as_text=True)
    assert client.get("/console/purchase-categories/999999").status_code == 404


def test_delete_asks_first_and_removes_an_unused_category(client, merch):
    client.post("/console/purchase-categories", data={"slug": "deposits", "name": "Deposits"})
    row_id = _row("deposits").id
    page = client.get("/console/purchase-categories").get_data(as_text=True)
    assert "data-confirm=" in page and f"/console/purchase-categories/{row_id}/delete" in page
    assert client.post(f"/console/purchase-categories/{row_id}/delete").status_code == 302
    assert _row("deposits") is None
    assert client.post(f"/console/purchase-categories/{row_id}/delete").status_code == 404


def test_a_category_that_purchases_use_is_not_deleted(client, merch, clock):
    client.post("/console/purchase-categories", data={"slug": "gift-cards", "name": "Gift cards", "excluded": "y"})
    store = make_store("SH-001", "Store 1")
    member = make_user(clock.now(), login="member@example.com")
    purchases.earn_for_member(store.id, "R-1", 5_000, member.id, now=clock.now(), code_hours=24, minor_per_point=100,
                              lines=[LineInput(5_000, category="gift-cards")])
    db.session.commit()
    row_id = _row("gift-cards").id
    refused = client.post(f"/console/purchase-categories/{row_id}/delete")
    assert refused.status_code == 409
    assert "Purchases use this category; it can't be removed." in html.unescape(refused.get_data(as_text=True))
    assert _row("gift-cards") is not None


def test_a_long_list_is_paged(client, merch):
    for n in range(30):
        db.session.add(PurchaseCategory(slug=f"cat-{n:02d}", name=f"Category {n}"))
    db.session.commit()
    first = client.get("/console/purchase-categories").get_data(as_text=True)
    assert "cat-00" in first and "cat-29" not in first and "Page 1 of 2" in first
    assert "cat-29" in client.get("/console/purchase-categories?page=2").get_data(as_text=True)
