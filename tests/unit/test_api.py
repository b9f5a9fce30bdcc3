"""The POS API, every response checked against the OpenAPI document the app serves."""
import pytest
from sqlalchemy import select

from mall.extensions import db
from mall.instore.models import ApiKey, Clawback
from mall.points.ledger import spend_points
from mall.points.models import LedgerEntry
from mall.points.statement import account_balance
from tests.factories import PASSWORD, make_user
from tests.instore_world import make_world, pos_api


@pytest.fixture
def world(app, clock):
    return make_world(clock.now())


@pytest.fixture
def api(client, world):
    return pos_api(client, world.api_key)


def _purchase_entries(member_id):
    return db.session.scalars(select(LedgerEntry).where(LedgerEntry.member_id == member_id,
                                                        LedgerEntry.reason == "purchase")).all()


def test_the_document_is_served_and_names_every_endpoint(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {"/members", "/purchases", "/purchases/{receipt_no}/refund", "/pickups/{code}",
                                 "/purchases/{receipt_no}/coupons/check", "/purchases/{receipt_no}/coupons",
                                 "/pickups"}
    assert doc["servers"] == [{"url": "/api/v1"}]


def test_look_up_a_member_by_code_or_mobile(api, world):
    response = api.call("GET", f"/members?member_code={world.member_code}", "/members")
    assert response.status_code == 200
    assert api.body["member_code"] == world.member_code and api.body["masked_name"] == "L*******"
    assert api.body["points"] == 4000
    assert api.call("GET", "/members?mobile=13900000000", "/members").status_code == 404
    assert api.body["error"]["code"] == "member_not_found"
    assert api.call("GET", "/members", "/members").status_code == 400
    assert api.body["error"]["code"] == "validation_error"


def test_earn_twice_with_the_same_receipt_number_gives_one_credit(api, world):
    body = {"receipt_no": "T1-0001", "amount_minor": 12_345, "member": {"member_code": world.member_code}}
    first = api.call("POST", "/purchases", json=body)
    assert first.status_code == 201
    assert (api.body["status"], api.body["points"], api.body["claim_url"]) == ("claimed", 123, None)
    again = api.call("POST", "/purchases", json=body)
    assert again.status_code == 200 and api.body["points"] == 123
    assert len(_purchase_entries(world.member_id)) == 1
    assert account_balance(world.member_id) == 4000 + 123
    conflict = api.call("POST", "/purchases", json={**body, "amount_minor": 99})
    assert conflict.status_code == 409 and api.body["error"]["code"] == "receipt_conflict"


def test_earn_without_a_member_returns_the_receipt_qr_url(api, client, world):
    response = api.call("POST", "/purchases", json={"receipt_no": "T1-0002", "amount_minor": 5000})
    assert response.status_code == 201 and api.body["status"] == "open"
    url = api.body["claim_url"]
    assert url.startswith("http://localhost/r/")
    client.post("/login", data={"identifier": "member@example.com", "password": PASSWORD})
    assert "+50 points" in client.get(url.removeprefix("http://localhost")).get_data(as_text=True)


def test_a_refund_after_the_member_spent_the_points_records_the_clawback(api, world, clock):
    api.call("POST", "/purchases", json={"receipt_no": "T1-0003", "amount_minor": 100_000,
                                         "member": {"member_code": world.member_code}})
    spend_points(world.member_id, 4500, reason="redeem", source="test", key="spend", now=clock.now())
    db.session.commit()
    assert account_balance(world.member_id) == 500
    response = api.call("POST", "/purchases/T1-0003/refund", "/purchases/{receipt_no}/refund")
    assert response.status_code == 200
    assert (api.body["reversed_points"], api.body["clawback_points"]) == (500, 500)
    assert api.body["purchase"]["status"] == "refunded"
    assert account_balance(world.member_id) == 0
    assert db.session.scalar(select(Clawback.points)) == 500
    again = api.call("POST", "/purchases/T1-0003/refund", "/purchases/{receipt_no}/refund")
    assert again.status_code == 200 and api.body["clawback_points"] == 500
    assert api.call("POST", "/purchases/NOPE/refund", "/purchases/{receipt_no}/refund").status_code == 404
    assert api.body["error"]["code"] == "purchase_not_found"


def test_a_bad_key_and_a_revoked_key_get_401(api, client, world):
    assert api.call("GET", "/members?member_code=X", "/members", key="pm_live_nope_nope").status_code == 401
    assert api.body["error"]["code"] == "invalid_api_key"
    response = client.get("/api/v1/members?member_code=X")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "invalid_api_key"

    key_id = db.session.scalar(select(ApiKey.id))
    client.post("/login", data={"identifier": "hq@example.com", "password": PASSWORD})
    assert client.post(f"/store-admin/api-keys/{key_id}/revoke").status_code == 302
    assert api.call("GET", f"/members?member_code={world.member_code}", "/members").status_code == 401
    assert api.body["error"]["code"] == "revoked_api_key"


def test_pickup_preview_and_redeem_then_a_replay_says_where_and_when(api, world):
    preview = api.call("GET", f"/pickups/{world.code}", "/pickups/{code}")
    assert preview.status_code == 200 and api.body["code"] == world.code and api.body["cash_due_minor"] == 0
    done = api.call("POST", "/pickups", json={"code": world.qr_text})
    assert done.status_code == 201 and api.body["store_code"] == "SH-001"
    replay = api.call("POST", "/pickups", json={"code": world.code})
    assert replay.status_code == 409 and api.body["error"]["code"] == "already_picked_up"
    assert api.body["error"]["details"]["store"] == "Store 1, Jing'an"
    assert "the till (Till 1)" in api.body["error"]["details"]["by"]


def test_pickup_refusals_have_stable_codes(api, world, clock):
    assert api.call("POST", "/pickups", json={"code": "1-ZZZZZZ"}).status_code == 422
    assert api.body["error"]["code"] == "invalid_code"
    assert api.call("POST", "/pickups", json={"code": world.code, "extra": 1}).status_code == 400
    assert api.body["error"] == {"code": "validation_error", "message": "Unknown field: extra.", "field": "extra"}
    assert api.call("POST", "/pickups", data="not json", content_type="application/json").status_code == 400
    clock.advance(days=15)
    assert api.call("POST", "/pickups", json={"code": world.code}).status_code == 422
    assert api.body["error"]["code"] == "code_expired"


def test_error_messages_follow_the_callers_language_and_codes_do_not(api, world):
    api.call("POST", "/pickups", json={"code": "1-ZZZZZZ"})
    english = api.body["error"]
    api.call("POST", "/pickups", json={"code": "1-ZZZZZZ"}, headers={"Accept-Language": "zh-CN"})
    chinese = api.body["error"]
    assert english["code"] == chinese["code"] == "invalid_code"
    assert english["message"].startswith("This code is not valid")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese["message"])


def test_earning_is_rate_limited_per_key(app, api, world):
    app.config["MALL_EARN_RATE_LIMIT"] = "2 per minute"
    statuses = [api.call("POST", "/purchases", json={"receipt_no": f"RL-{i}", "amount_minor": 100}).status_code
                for i in range(3)]
    assert statuses == [201, 201, 429]
    assert api.body["error"]["code"] == "rate_limited"


def test_api_keys_are_shown_once_stored_hashed_and_revocable(client, world, clock):
    client.post("/login", data={"identifier": "hq@example.com", "password": PASSWORD})
    page = client.post("/store-admin/api-keys", data={"store_id": world.store_id, "name": "Till 9"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "shown only this once" in html
    secret = html.split("data-new-key>")[1].split("<")[0]
    assert secret.startswith("pm_live_")
    stored = db.session.scalar(select(ApiKey).where(ApiKey.name == "Till 9"))
    assert secret not in (stored.key_hash, stored.prefix) and len(stored.key_hash) == 64
    listing = client.get("/store-admin/api-keys").get_data(as_text=True)
    assert secret not in listing and f"pm_live_{stored.prefix}_" in listing
    assert "data-confirm=" in listing  # revoking asks first
    assert client.post("/store-admin/api-keys", data={"store_id": world.store_id, "name": ""}).status_code == 422


@pytest.mark.parametrize("role,status", [("member", 403), ("store_staff", 403), ("merchandiser", 200), ("hq", 200)])
def test_only_hq_and_merchandisers_manage_keys(client, world, clock, role, status):
    login = {"member": "member@example.com", "store_staff": "staff@example.com", "hq": "hq@example.com"}.get(role)
    if login is None:
        make_user(clock.now(), role=role, login=f"{role}@example.com")
        db.session.commit()
        login = f"{role}@example.com"
    client.post("/login", data={"identifier": login, "password": PASSWORD})
    assert client.get("/store-admin/api-keys").status_code == status


@pytest.mark.parametrize("field, value", [("name", "Bok\u0000choy"), ("name", "Bok \ud800choy"), ("sku", "VEG\x7f1"),
                                          ("sku", "\udfff")])
def test_a_line_text_no_column_can_hold_is_a_validation_error_and_changes_nothing(api, world, field, value):
    from mall.instore.models import Purchase
    line = {"sku": "VEG-1", "name": "Bok choy", "category": "fresh", "quantity": 1, "amount_minor": 1_000,
            field: value}
    response = api.call("POST", "/purchases", "/purchases",
                        json={"receipt_no": "T9-0001", "amount_minor": 1_000, "lines": [line]})
    assert response.status_code == 400 and api.body["error"]["code"] == "validation_error"
    assert api.body["error"]["field"] == "lines[1]"
    assert db.session.scalar(select(Purchase).where(Purchase.receipt_no == "T9-0001")) is None
