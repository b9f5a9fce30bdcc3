"""CSV import is all or nothing and names each problem by row and column; export round-trips."""
import io

import pytest
from sqlalchemy import func, select

from mall.catalog.models import Item
from mall.extensions import db
from mall.inventory.models import StockLevel
from tests.factories import PASSWORD, make_category, make_item, make_user

HEADER = "sku,name,name_zh,category,min_tier,points_price,per_member_limit,published,receive\n"


@pytest.fixture
def merch(tiers, clock, client):
    make_user(clock.now(), role="merchandiser", login="csv@example.com")
    make_category("home", "Home")
    db.session.commit()
    client.post("/login", data={"identifier": "csv@example.com", "password": PASSWORD})


def _upload(client, text, name="items.csv"):
    return client.post("/console/import", data={"file": (io.BytesIO(text.encode()), name)},
                       content_type="multipart/form-data")


def test_a_clean_file_creates_updates_and_receives(client, merch, clock):
    existing = make_item(clock.now(), stock=5)
    db.session.commit()
    text = HEADER + f"NEW-1,Lamp,台灯,home,gold,2500,2,yes,7\n{existing.sku},Renamed,,home,,900,,no,3\n"
    response = _upload(client, text)
    assert response.status_code == 200
    assert "1 created, 1 updated, 10 units received" in response.get_data(as_text=True)
    lamp = db.session.scalar(select(Item).where(Item.sku == "NEW-1"))
    assert lamp.published and lamp.min_tier.code == "gold" and lamp.per_member_limit == 2
    assert db.session.get(StockLevel, lamp.id).received == 7
    db.session.expire_all()
    renamed = db.session.get(Item, existing.id)
    assert renamed.name == "Renamed" and renamed.points_price == 900 and not renamed.published
    assert db.session.get(StockLevel, existing.id).received == 8
    assert [p.kind for p in renamed.plans] == ["points"]  # plans untouched by the import


def test_a_file_with_a_bad_row_imports_nothing_and_names_the_row_and_column(client, merch, clock):
    text = HEADER + "OK-1,Cup,,home,,500,,yes,4\nBAD-2,Bowl,,home,,-3,,yes,\nBAD-3,Pan,,kitchen,,700,,maybe,\n"
    response = _upload(client, text)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Nothing was imported: 3 problems found." in page
    assert "<td class=\"num\">3</td><td><code>points_price</code></td>" in page.replace("\n", "")
    assert "<code>category</code>" in page and "<code>published</code>" in page
    assert db.session.scalar(select(func.count()).select_from(Item)) == 0


def test_export_lists_items_with_their_stock_and_imports_back_unchanged(client, merch, clock):
    make_item(clock.now(), name="Towel", stock=4)
    db.session.commit()
    exported = client.get("/console/export.csv")
    text = exported.get_data(as_text=True)
    assert exported.mimetype == "text/csv" and "Towel" in text and ",4,0,0,4" in text
    assert _upload(client, text).status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Item)) == 1


def test_a_non_csv_upload_is_refused(client, merch):
    response = _upload(client, "hello", name="items.xlsx")
    assert response.status_code == 422 and "Only .csv files." in response.get_data(as_text=True)


def test_export_defuses_spreadsheet_formulas_and_imports_them_back_as_text(client, merch, clock):
    item = make_item(clock.now(), name="=HYPERLINK(\"http://evil\")")
    db.session.commit()
    text = client.get("/console/export.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in text
    assert _upload(client, text).status_code == 200
    db.session.expire_all()
    assert db.session.get(Item, item.id).name == "=HYPERLINK(\"http://evil\")"


def test_a_bad_row_among_good_ones_names_its_row_and_changes_no_stock(client, merch, clock):
    existing = make_item(clock.now(), stock=5)
    db.session.commit()
    text = HEADER + f"{existing.sku},{existing.name},,home,,1000,,yes,10\nNEW-9,Bowl,,home,platinum,500,,yes,\n"
    response = _upload(client, text)
    page = response.get_data(as_text=True).replace("\n", "")
    assert response.status_code == 422 and '<td class="num">3</td><td><code>min_tier</code></td>' in page
    db.session.expire_all()
    assert db.session.get(StockLevel, existing.id).received == 5
    assert db.session.scalar(select(func.count()).select_from(Item)) == 1


def test_the_kind_column_creates_an_item_of_that_kind_keeps_it_when_empty_and_refuses_an_unknown_one(client, merch, clock):
    header = "sku,name,name_zh,category,min_tier,points_price,per_member_limit,published,receive,kind\n"
    # A coupon item is published only once its coupon is defined (console item form).
    unpublishable = _upload(client, header + "CPN-1,Voucher,,home,,500,,yes,100,coupon\n")
    assert unpublishable.status_code == 422 and "Define the coupon" in unpublishable.get_data(as_text=True)
    assert db.session.scalar(select(Item).where(Item.sku == "CPN-1")) is None
    assert _upload(client, header + "CPN-1,Voucher,,home,,500,,no,100,coupon\n").status_code == 200
    voucher = db.session.scalar(select(Item).where(Item.sku == "CPN-1"))
    assert voucher.kind == "coupon" and db.session.get(StockLevel, voucher.id).received == 100
    assert _upload(client, header + "CPN-1,Voucher ¥10,,home,,500,,no,,\n").status_code == 200
    db.session.expire_all()
    assert db.session.get(Item, voucher.id).kind == "coupon"
    refused = _upload(client, header + "CPN-2,Odd,,home,,500,,yes,,lottery\n")
    assert refused.status_code == 422 and "<code>kind</code>" in refused.get_data(as_text=True)


def test_a_cell_longer_than_the_csv_field_limit_refuses_the_file_with_a_message(client, merch):
    response = _upload(client, "sku,name\nA," + "x" * 140000 + "\n")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "can&#39;t be read as CSV" in body and "131,072 characters" in body and "nothing was imported" in body
    assert db.session.scalar(select(func.count()).select_from(Item)) == 0


def test_receiving_past_the_stock_column_limit_is_refused_by_row_and_writes_nothing(client, merch, clock):
    existing = make_item(clock.now(), stock=10)
    db.session.commit()
    response = _upload(client, HEADER + "NEW-1,Kettle,,home,,100,,yes,5\n"
                       f"{existing.sku},Mug,,home,,100,,yes,2147483647\n")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "That would take the stock past 2147483647 units" in body and "<code>receive</code>" in body
    db.session.expire_all()
    assert db.session.get(StockLevel, existing.id).received == 10
    assert db.session.scalar(select(Item).where(Item.sku == "NEW-1")) is None
