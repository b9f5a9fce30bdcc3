"""Every page for every role, from one table: who sees it, who is sent to log in, who is
refused with the designed 403 page."""
import pytest

from mall.extensions import db
from tests.factories import PASSWORD, give_points, make_item, make_user

ROLES = ("anonymous", "member", "merchandiser", "store_staff", "hq")
LOGIN, OK, FORBIDDEN = "login", 200, 403
HOME = {"member": "/", "merchandiser": "/console", "store_staff": "/counter", "hq": "/hq"}

#  page                 anonymous        member      merchandiser  store_staff  hq
MATRIX = {
    "/":                 ("->/catalog",   OK,         "->home",     "->home",    "->home"),
    "/catalog":          (OK,             OK,         OK,           OK,          OK),
    "/catalog/{item}":   (OK,             OK,         OK,           OK,          OK),
    "/points/statement": (LOGIN,          OK,         FORBIDDEN,    FORBIDDEN,   FORBIDDEN),
    "/cart":             (LOGIN,          OK,         FORBIDDEN,    FORBIDDEN,   FORBIDDEN),
    "/orders":           (LOGIN,          OK,         FORBIDDEN,    FORBIDDEN,   FORBIDDEN),
    "/orders/{order}":   (LOGIN,          OK,         FORBIDDEN,    FORBIDDEN,   FORBIDDEN),
    "/console":          (LOGIN,          FORBIDDEN,  OK,           FORBIDDEN,   FORBIDDEN),
    "/counter":          (LOGIN,          FORBIDDEN,  FORBIDDEN,    OK,          FORBIDDEN),
    "/hq":               (LOGIN,          FORBIDDEN,  FORBIDDEN,    FORBIDDEN,   OK),
    "/hq/orders":        (LOGIN,          FORBIDDEN,  FORBIDDEN,    FORBIDDEN,   OK),
    "/login":            (OK,             "->home",   "->home",     "->home",    "->home"),
    "/register":         (OK,             "->home",   "->home",     "->home",    "->home"),
}

#  POST-only actions a member may take; everyone else is sent to log in or refused
MEMBER_ACTIONS = ["/catalog/{item}/target", "/catalog/{item}/quote", "/catalog/{item}/buy",
                  "/catalog/{item}/cart", "/cart/checkout", "/orders/{order}/cancel"]
CASES = [(page, role, expected) for page, row in MATRIX.items() for role, expected in zip(ROLES, row)]


@pytest.fixture
def world(tiers, clock, client):
    from mall.checkout.orders import place_order
    from mall.checkout.quotes import LineRequest
    now = clock.now()
    users = {role: make_user(now, role=role, login=f"{role}@example.com") for role in ROLES[1:]}
    give_points(users["member"].id, 5000, now)
    item = make_item(now, points=100)
    order = place_order(users["member"].id, [LineRequest(item.id, item.plans[0].id, 1)], key="w", now=now,
                        hold_minutes=10, card_payments=False, points_per_unit=100)
    db.session.commit()
    return {"item": item.id, "order": order.id}


def _as(client, role):
    if role != "anonymous":
        response = client.post("/login", data={"identifier": f"{role}@example.com", "password": PASSWORD})
        assert response.status_code == 302, f"{role} could not log in"


@pytest.mark.parametrize("page,role,expected", CASES, ids=[f"{r}:{p}" for p, r, _ in CASES])
def test_every_page_for_every_role(client, world, page, role, expected):
    _as(client, role)
    response = client.get(page.format(**world))
    if expected == LOGIN:
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    elif expected == "->home":
        assert response.status_code == 302 and response.headers["Location"].endswith(HOME[role])
    elif isinstance(expected, str):
        assert response.status_code == 302 and response.headers["Location"].endswith(expected[2:])
    else:
        assert response.status_code == expected
        if expected == FORBIDDEN:
            assert "This page isn’t for your account" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", [r for r in ROLES if r != "member"])
@pytest.mark.parametrize("action", MEMBER_ACTIONS)
def test_member_actions_are_refused_to_everyone_else(client, world, role, action):
    _as(client, role)
    response = client.post(action.format(**world), data={"plan_id": 1, "quantity": 1, "key": "x", "reason": "r"})
    if role == "anonymous":
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", [r for r in ROLES if r != "hq"])
def test_only_hq_may_refund(client, world, role):
    _as(client, role)
    response = client.post(f"/hq/orders/{world['order']}/refund", data={"reason": "r"})
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert role == "anonymous" and "/login" in response.headers["Location"]


def test_unknown_pages_and_items_get_the_designed_404(client, world):
    for url in ("/nowhere", "/catalog/999999", "/orders/999999"):
        _as(client, "member") if url.startswith("/orders") else None
        response = client.get(url)
        assert response.status_code == 404
        assert "We couldn’t find that page" in response.get_data(as_text=True)


def test_logout_needs_a_post(client, world):
    _as(client, "member")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 302
    assert "/login" in client.get("/orders").headers["Location"]
