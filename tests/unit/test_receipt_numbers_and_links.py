"""Receipt numbers have one shape at the counter and in the POS API, and whatever can be
earned can be refunded by its URL; links printed in QR codes use the site's own address
(MALL_BASE_URL), and the device cookie is Secure behind a TLS-terminating proxy
(issue 11, item 9)."""
import pytest
from sqlalchemy import select

from mall import create_app
from mall.config import TestConfig
from mall.extensions import db
from mall.instore.models import Purchase
from mall.points.statement import account_balance
from tests.factories import PASSWORD
from tests.instore_world import make_world


@pytest.fixture
def world(app, clock):
    return make_world(clock.now())


def _api(client, world, method, path, headers=None, **kw):
    headers = {"Authorization": f"Bearer {world.api_key}", **(headers or {})}
    return client.open(f"/api/v1{path}", method=method, headers=headers, **kw)


@pytest.mark.parametrize("receipt, url_part", [
    ("R-2026/06 a.1", "R-2026/06%20a.1"),   # a slash, a space, lower case, a dot
    ("T1//9/", "T1//9/"),                    # slashes doubled and last: not merged away
    ("Z.9_0-1", "Z.9_0-1"),
])
def test_a_receipt_earned_through_the_api_is_refunded_through_its_url(client, world, receipt, url_part):
    earned = _api(client, world, "POST", "/purchases",
                  json={"receipt_no": receipt, "amount_minor": 10_000, "member": {"member_code": world.member_code}})
    assert earned.status_code == 201, earned.get_json()
    assert account_balance(world.member_id) == 4000 + 100
    refunded = _api(client, world, "POST", f"/purchases/{url_part}/refund")
    assert refunded.status_code == 200, refunded.get_data(as_text=True)
    assert refunded.get_json()["purchase"]["status"] == "refunded"
    assert account_balance(world.member_id) == 4000


@pytest.mark.parametrize("receipt", ["#1001", "收据-1", "-1001", "R:1"])
def test_the_counter_refuses_the_receipt_numbers_the_api_refuses(client, world, receipt):
    assert _api(client, world, "POST", "/purchases",
                json={"receipt_no": receipt, "amount_minor": 10_000}).status_code == 400
    client.post("/login", data={"identifier": "staff@example.com", "password": PASSWORD})
    response = client.post("/counter/purchases", data={"store": world.store_id, "receipt_no": receipt,
                                                       "amount": "100.00"})
    assert response.status_code == 422
    assert "Enter the receipt number printed on the receipt" in response.get_data(as_text=True)


def test_receipt_qr_links_use_the_sites_address_not_the_host_header(app, client, world):
    app.config["MALL_BASE_URL"] = "https://mall.example.com"
    earned = _api(client, world, "POST", "/purchases", json={"receipt_no": "Q-1", "amount_minor": 5000},
                  headers={"Host": "evil.example"})
    assert earned.get_json()["claim_url"].startswith("https://mall.example.com/r/")
    evil = {"Host": "evil.example"}
    client.post("/login", data={"identifier": "staff@example.com", "password": PASSWORD}, headers=evil)
    page = client.post("/counter/purchases", data={"store": world.store_id, "receipt_no": "Q-2", "amount": "10.00"},
                       headers=evil).get_data(as_text=True)
    assert "https://mall.example.com/r/" in page and "evil.example" not in page


def _device_cookie(response):
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("mall_device="))


def test_the_device_cookie_is_secure_when_session_cookies_are(app, client):
    assert "Secure" not in _device_cookie(client.get("/login"))  # the test config: plain http
    app.config["SESSION_COOKIE_SECURE"] = True  # TLS ends at a proxy: the app itself sees http
    assert "Secure" in _device_cookie(app.test_client().get("/login"))


def test_behind_a_proxy_the_forwarded_scheme_and_address_are_used():
    class Behind(TestConfig):
        MALL_PROXY_HOPS = 1
    client = create_app(Behind).test_client()
    response = client.get("/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert "Secure" in _device_cookie(response)


def test_a_purchase_line_on_the_statement_links_its_receipt_number_in_both_languages(client, world, auth):
    earned = _api(client, world, "POST", "/purchases",
                  json={"receipt_no": "R-7788", "amount_minor": 10_000, "member": {"member_code": world.member_code}})
    assert earned.status_code == 201
    auth.login("member@example.com", PASSWORD)
    purchase_id = db.session.scalar(select(Purchase.id).where(Purchase.receipt_no == "R-7788"))
    assert (f'<span class="line-order small line-receipt"><a class="line-receipt-link" href="/purchases/{purchase_id}">'
            'Receipt no. R-7788</a></span>') in client.get("/points/statement").text
    client.post("/locale", data={"locale": "zh_Hans", "next": "/"})
    assert "小票号 R-7788" in client.get("/points/statement").text
