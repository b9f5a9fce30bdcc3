"""The authorisation matrix: every route of the app x every role, from ONE table.

`ROUTES` below has one row per (method, rule) of app.url_map. A test compares the table
with the app's url_map, so a new route fails the suite until somebody decides, here, who
may use it. Each cell says what that role gets:

    OK          200
    LOGIN       302 to the login page (anonymous users)
    FORBIDDEN   403, the designed "this page isn't for your account" page
    "->/x"      302 to /x ("->home" is the role's own home page)
    ALLOWED     past the guard: neither 401/403 nor sent to log in, and no server error
                (actions are posted with placeholder data, so 302, 400, 404, 409 and 422
                all count: the role may try, the service decides)
    API         401 without an API key, whatever the session (server-to-server routes)
    an int      exactly that status
"""
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from mall import create_app
from mall.clock import FrozenClock
from mall.config import TestConfig
from mall.extensions import db
from mall.instore.models import Store
from mall.instore.purchases import earn_for_member
from tests.conftest import START, isolate_requests
from tests.factories import PASSWORD, give_points, make_item, make_tiers, make_user
from tests.games_world import make_game

ROLES = ("anonymous", "member", "merchandiser", "store_staff", "hq")
LOGIN, OK, FORBIDDEN, ALLOWED, API = "login", 200, 403, "allowed", "api"
HOME = {"member": "/", "merchandiser": "/console", "store_staff": "/counter", "hq": "/hq"}
M_ONLY = (LOGIN, ALLOWED, FORBIDDEN, FORBIDDEN, FORBIDDEN)       # a member's action
M_PAGE = (LOGIN, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN)            # a member's page
HQ_PAGE = (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)
HQ_ONLY = (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, ALLOWED)
MERCH_PAGE = (LOGIN, FORBIDDEN, OK, FORBIDDEN, FORBIDDEN)
MERCH_ONLY = (LOGIN, FORBIDDEN, ALLOWED, FORBIDDEN, FORBIDDEN)
DESK_PAGE = (LOGIN, FORBIDDEN, OK, FORBIDDEN, OK)                # merchandiser and HQ
DESK_ONLY = (LOGIN, FORBIDDEN, ALLOWED, FORBIDDEN, ALLOWED)
STAFF_PAGE = (LOGIN, FORBIDDEN, FORBIDDEN, OK, FORBIDDEN)
STAFF_ONLY = (LOGIN, FORBIDDEN, FORBIDDEN, ALLOWED, FORBIDDEN)
EVERYONE = (OK, OK, OK, OK, OK)
API_ALL = (API, API, API, API, API)

# ======================================================================================
# THE TABLE: every route x every role.  Add a row for every new route.
# ======================================================================================
#   (method, rule)                                          anonymous / member / merchandiser / store_staff / hq
ROUTES = {
    # --- storefront, catalogue, accounts (foundation) ----------------------------------
    ("GET", "/"):                                           ("->/catalog", OK, "->home", "->home", "->home"),
    ("GET", "/catalog"):                                    EVERYONE,
    ("GET", "/catalog/<int:item_id>"):                      EVERYONE,
    ("GET", "/catalog/<int:item_id>/offers"):               EVERYONE,  # substitutes, priced for the viewer
    ("GET", "/catalog/media/<path:name>"):                  (404, 404, 404, 404, 404),  # no such upload
    ("POST", "/catalog/<int:item_id>/target"):              M_ONLY,
    ("GET", "/points/statement"):                           M_PAGE,
    ("GET", "/login"):                                      (OK, "->home", "->home", "->home", "->home"),
    ("POST", "/login"):                                     (422, "->home", "->home", "->home", "->home"),
    ("GET", "/register"):                                   (OK, "->home", "->home", "->home", "->home"),
    ("POST", "/register"):                                  (422, "->home", "->home", "->home", "->home"),
    ("GET", "/password/forgot"):                            EVERYONE,
    ("POST", "/password/forgot"):                           (422, 422, 422, 422, 422),  # no login given
    ("GET", "/password/reset/<token>"):                     (400, 400, 400, 400, 400),  # a forged link
    ("POST", "/password/reset/<token>"):                    (400, 400, 400, 400, 400),
    ("POST", "/logout"):                                    (LOGIN, "->/login", "->/login", "->/login", "->/login"),
    ("POST", "/locale"):                                    ("->/", "->/", "->/", "->/", "->/"),
    ("GET", "/static/<path:filename>"):                     EVERYONE,
    ("GET", "/healthz"):                                    EVERYONE,  # the balancer's probe (mall/health.py)
    # --- checkout (checkout) ------------------------------------------------------------
    ("POST", "/catalog/<int:item_id>/quote"):               M_ONLY,
    ("POST", "/catalog/<int:item_id>/buy"):                 M_ONLY,
    ("POST", "/catalog/<int:item_id>/cart"):                M_ONLY,
    ("GET", "/cart"):                                       M_PAGE,
    ("POST", "/cart/<int:line_id>/quantity"):               M_ONLY,
    ("POST", "/cart/<int:line_id>/remove"):                 M_ONLY,
    ("POST", "/cart/checkout"):                             M_ONLY,
    ("GET", "/orders"):                                     M_PAGE,
    ("GET", "/orders/<int:order_id>"):                      M_PAGE,
    ("POST", "/orders/<int:order_id>/<action>"):            M_ONLY,
    ("POST", "/stripe/webhook"):                            (404, 404, 404, 404, 404),  # no Stripe configured here
    # --- console (merchandiser) -------------------------------------------------------
    ("GET", "/console"):                                    MERCH_PAGE,
    ("GET", "/console/categories"):                         MERCH_PAGE,
    ("POST", "/console/categories"):                        MERCH_ONLY,
    ("GET", "/console/categories/<int:category_id>"):       (LOGIN, FORBIDDEN, ALLOWED, FORBIDDEN, FORBIDDEN),
    ("POST", "/console/categories/<int:category_id>"):      MERCH_ONLY,
    ("GET", "/console/export.csv"):                         MERCH_PAGE,
    ("GET", "/console/import"):                             MERCH_PAGE,
    ("POST", "/console/import"):                            MERCH_ONLY,
    ("GET", "/console/items/new"):                          MERCH_PAGE,
    ("POST", "/console/items/new"):                         MERCH_ONLY,
    ("GET", "/console/items/<int:item_id>"):                MERCH_PAGE,
    ("POST", "/console/items/<int:item_id>"):               MERCH_ONLY,
    ("GET", "/console/items/<int:item_id>/history"):        MERCH_PAGE,
    ("POST", "/console/items/<int:item_id>/image"):         MERCH_ONLY,
    ("POST", "/console/items/<int:item_id>/publish"):       MERCH_ONLY,
    ("GET", "/console/items/<int:item_id>/stock"):          MERCH_PAGE,
    ("POST", "/console/items/<int:item_id>/stock"):         MERCH_ONLY,
    ("GET", "/console/items/<int:item_id>/substitutes"):    MERCH_PAGE,
    ("POST", "/console/items/<int:item_id>/substitutes"):   MERCH_ONLY,
    ("GET", "/console/purchase-categories"):                MERCH_PAGE,
    ("POST", "/console/purchase-categories"):               MERCH_ONLY,
    ("GET", "/console/purchase-categories/<int:category_id>"): (LOGIN, FORBIDDEN, ALLOWED, FORBIDDEN, FORBIDDEN),
    ("POST", "/console/purchase-categories/<int:category_id>"): MERCH_ONLY,
    ("POST", "/console/purchase-categories/<int:category_id>/delete"): MERCH_ONLY,
    # --- presale (console/presale) ------------------------------------------------------
    ("POST", "/catalog/<int:item_id>/preorder"):            M_ONLY,
    ("POST", "/orders/<int:order_id>/offer"):               M_ONLY,
    ("GET", "/console/items/<int:item_id>/presale"):        MERCH_PAGE,
    ("POST", "/console/items/<int:item_id>/presale"):       MERCH_ONLY,
    # --- services and rights (bookings) -------------------------------------------------
    ("POST", "/orders/<int:order_id>/booking/reschedule"):  M_ONLY,
    ("POST", "/orders/<int:order_id>/booking/cancel"):      M_ONLY,
    ("GET", "/counter/bookings"):                           STAFF_PAGE,
    ("POST", "/counter/bookings/<int:booking_id>/done"):    STAFF_ONLY,
    ("GET", "/console/items/<int:item_id>/slots"):          MERCH_PAGE,
    ("POST", "/console/items/<int:item_id>/slots"):         MERCH_ONLY,
    # --- in store: counter, pickups, receipts, API keys (instore) -----------------------
    ("GET", "/counter"):                                    STAFF_PAGE,
    ("GET", "/counter/pickup"):                             STAFF_ONLY,   # 422 without a code
    ("POST", "/counter/pickup"):                            STAFF_ONLY,
    ("POST", "/counter/purchases"):                         STAFF_ONLY,
    ("GET", "/orders/<int:order_id>/pickup-status"):        (LOGIN, ALLOWED, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ("GET", "/r/<token>"):                                  (LOGIN, ALLOWED, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ("GET", "/purchases/<int:purchase_id>"):                M_PAGE,  # the member's own receipt (another's: 404)
    ("GET", "/store-admin/api-keys"):                       DESK_PAGE,
    ("POST", "/store-admin/api-keys"):                      DESK_ONLY,
    ("POST", "/store-admin/api-keys/<int:key_id>/revoke"):  DESK_ONLY,
    ("GET", "/store-admin/staff"):                          HQ_PAGE,
    ("POST", "/store-admin/staff"):                         HQ_ONLY,
    ("POST", "/store-admin/staff/<int:staff_id>/stores/<int:store_id>/unbind"): HQ_ONLY,
    # --- POS / ERP API: an API key, never a session (api) --------------------------------
    ("GET", "/api/v1/openapi.json"):                        EVERYONE,
    ("GET", "/api/v1/members"):                             API_ALL,
    ("POST", "/api/v1/purchases"):                          API_ALL,
    ("POST", "/api/v1/purchases/<path:receipt_no>/refund"): API_ALL,
    ("GET", "/api/v1/pickups/<code>"):                      API_ALL,
    ("POST", "/api/v1/pickups"):                            API_ALL,
    # --- engagement: tasks and earning rules (engagement) --------------------------------
    ("GET", "/tasks"):                                      M_PAGE,
    ("GET", "/card"):                                       M_PAGE,
    ("GET", "/sw.js"):                                      EVERYONE,
    ("GET", "/manifest.webmanifest"):                       EVERYONE,
    ("GET", "/offline"):                                    EVERYONE,
    ("GET", "/offline/keep"):                               M_PAGE,
    # --- appeals (issue 17) ----------------------------------------------------------------
    ("GET", "/appeals"):                                    M_PAGE,
    ("GET", "/appeals/new"):                                M_PAGE,
    ("POST", "/appeals/new"):                               M_ONLY,
    ("GET", "/appeals/<int:appeal_id>/photo"):              (LOGIN, ALLOWED, FORBIDDEN, FORBIDDEN, ALLOWED),
    ("GET", "/hq/appeals"):                                 HQ_PAGE,
    ("POST", "/hq/appeals/<int:appeal_id>"):                HQ_ONLY,
    ("POST", "/tasks/check-in"):                            M_ONLY,
    ("POST", "/tasks/profile"):                             M_ONLY,
    ("POST", "/tasks/referral"):                            M_ONLY,
    ("POST", "/tasks/tier-banner/<int:change_id>/dismiss"): M_ONLY,
    ("GET", "/console/earning-rules"):                      DESK_PAGE,
    ("POST", "/console/earning-rules"):                     DESK_ONLY,
    ("GET", "/console/earning-rules/preview"):              DESK_PAGE,
    ("GET", "/console/earning-rules/<rule_key>"):           (LOGIN, FORBIDDEN, ALLOWED, FORBIDDEN, ALLOWED),
    ("POST", "/console/earning-rules/<rule_key>"):          DESK_ONLY,
    ("POST", "/console/earning-rules/<rule_key>/retire"):   DESK_ONLY,
    # --- notifications (notifications) ---------------------------------------------------
    ("GET", "/notifications"):                              M_PAGE,
    ("GET", "/notifications/<int:notification_id>"):        (LOGIN, ALLOWED, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ("GET", "/notifications/badge"):                        M_PAGE,
    ("GET", "/notifications/settings"):                     M_PAGE,
    ("POST", "/notifications/settings"):                    M_ONLY,
    # --- HQ: dashboard, budgets, grants, risk, members, segments, orders (hq) --------------
    ("GET", "/hq"):                                         HQ_PAGE,
    ("GET", "/hq/export/<chart>.csv"):                      HQ_PAGE,
    ("GET", "/hq/budgets"):                                 HQ_PAGE,
    ("POST", "/hq/budgets"):                                HQ_ONLY,
    ("GET", "/hq/budgets/programme"):                       HQ_PAGE,
    ("POST", "/hq/budgets/programme"):                      HQ_ONLY,
    ("GET", "/hq/grants"):                                  (LOGIN, FORBIDDEN, FORBIDDEN, OK, OK),
    ("POST", "/hq/grants"):                                 (LOGIN, FORBIDDEN, FORBIDDEN, ALLOWED, ALLOWED),
    ("POST", "/hq/grants/<int:grant_id>/decide"):           HQ_ONLY,
    ("GET", "/hq/risk"):                                    HQ_PAGE,
    ("GET", "/hq/risk/clusters"):                           HQ_PAGE,
    ("POST", "/hq/risk/reviews/<int:review_id>/decide"):    HQ_ONLY,
    ("GET", "/hq/members"):                                 HQ_PAGE,
    ("GET", "/hq/members/<int:member_id>"):                 HQ_PAGE,
    ("POST", "/hq/members/<int:member_id>/freeze"):         HQ_ONLY,
    ("POST", "/hq/members/<int:member_id>/unfreeze"):       HQ_ONLY,
    ("GET", "/hq/segments"):                                HQ_PAGE,
    ("GET", "/hq/segments/<segment>"):                      HQ_PAGE,
    ("POST", "/hq/segments/refresh"):                       HQ_ONLY,
    ("GET", "/hq/audit"):                                   HQ_PAGE,
    ("GET", "/hq/orders"):                                  HQ_PAGE,
    ("POST", "/hq/orders/<int:order_id>/refund"):           HQ_ONLY,
    # --- games: play, rules, console, HQ report (games) ------------------------------------
    ("GET", "/games"):                                      M_PAGE,
    ("GET", "/games/plays"):                                M_PAGE,
    ("GET", "/games/<int:game_id>"):                        M_PAGE,
    ("POST", "/games/<int:game_id>/play"):                  M_ONLY,
    ("GET", "/games/<int:game_id>/rules"):                  EVERYONE,  # the public rules and odds
    ("GET", "/console/games"):                              MERCH_PAGE,
    ("POST", "/console/games"):                             MERCH_ONLY,
    ("GET", "/console/games/<int:game_id>"):                MERCH_PAGE,
    ("POST", "/console/games/<int:game_id>"):               MERCH_ONLY,
    ("POST", "/console/games/<int:game_id>/open"):          MERCH_ONLY,
    ("POST", "/console/games/<int:game_id>/close"):         MERCH_ONLY,
    ("POST", "/console/games/<int:game_id>/prizes/<int:prize_id>/remove"): MERCH_ONLY,
    ("GET", "/hq/games"):                                   HQ_PAGE,
    ("GET", "/hq/games/<int:game_id>"):                     HQ_PAGE,
    # --- wallet: coupons and red packets (wallet) -----------------------------------------
    ("GET", "/wallet"):                                     M_PAGE,
    ("GET", "/wallet/<int:item_id>"):                       (LOGIN, 404, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    ("GET", "/hq/wallet/issue"):                            HQ_PAGE,
    ("POST", "/hq/wallet/issue"):                           HQ_ONLY,
    ("GET", "/counter/coupons"):                            STAFF_PAGE,
    ("POST", "/counter/coupons"):                           STAFF_ONLY,
    ("POST", "/api/v1/purchases/<path:receipt_no>/coupons/check"): API_ALL,
    ("POST", "/api/v1/purchases/<path:receipt_no>/coupons"): API_ALL,
    # --- red-packet campaigns (redpackets) -------------------------------------------------
    ("GET", "/red-packets"):                                M_PAGE,
    ("GET", "/red-packets/<token>"):                        (404, 404, 404, 404, 404),  # a forged share link
    ("POST", "/red-packets/<token>/open"):                  M_ONLY,
    ("GET", "/hq/red-packets"):                             HQ_PAGE,
    ("POST", "/hq/red-packets"):                            HQ_ONLY,
    ("GET", "/hq/red-packets/<int:campaign_id>"):           (LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, ALLOWED),
    ("POST", "/hq/red-packets/<int:campaign_id>/close"):    HQ_ONLY,
}
# ======================================================================================

# Values for the rules' placeholders; "{...}" ones come from the world fixture.
PARAMS = {"item_id": "{item}", "order_id": "{order}", "line_id": "{line}", "member_id": "{member}",
          "grant_id": "999", "review_id": "999", "key_id": "999", "change_id": "999",
          "notification_id": "999", "action": "cancel", "receipt_no": "R1", "code": "NOPE",
          "token": "nope", "chart": "trend", "segment": "loyal", "rule_key": "nope", "category_id": "999",
          "name": "items/none.webp", "filename": "css/mall.css", "staff_id": "999", "store_id": "999",
          "campaign_id": "999", "game_id": "{game}", "prize_id": "{prize}",
          "booking_id": "999", "appeal_id": "999", "purchase_id": "{purchase}"}
FORM = {"plan_id": "1", "quantity": "1", "key": "x", "reason": "r", "identifier": "", "password": "",
        "locale": "en", "next": "/"}


def _url(rule: str, world: dict) -> str:
    path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: PARAMS[m.group(1)], rule)
    return path.format(**world)


def _app_routes(app) -> set:
    return {(method, rule.rule) for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def test_the_table_covers_every_route_of_the_app(matrix):
    routes = _app_routes(matrix["app"])
    missing = sorted(routes - set(ROUTES))
    stale = sorted(set(ROUTES) - routes)
    assert not missing, f"routes with no row in the access matrix (add them to ROUTES): {missing}"
    assert not stale, f"rows for routes that no longer exist (remove them from ROUTES): {stale}"


def _build_world(now) -> dict:
    from mall.checkout import cart
    from mall.checkout.orders import place_order
    from mall.checkout.quotes import LineRequest
    make_tiers()
    users = {role: make_user(now, role=role, login=f"{role}@example.com") for role in ROLES[1:]}
    give_points(users["member"].id, 5000, now)
    item = make_item(now, points=100)
    order = place_order(users["member"].id, [LineRequest(item.id, item.plans[0].id, 1)], key="w", now=now,
                        hold_minutes=10, card_payments=False, points_per_unit=100)
    line = cart.add(users["member"].id, LineRequest(item.id, item.plans[0].id, 1), now, points_per_unit=100)
    game = make_game(now, actor_id=users["merchandiser"].id)
    store = Store(code="MX-1", name="Matrix store")
    db.session.add(store)
    db.session.flush()
    purchase, _ = earn_for_member(store.id, "MX-1", 10_000, users["member"].id, now=now, code_hours=24,
                                  minor_per_point=100)
    db.session.commit()
    return {"item": item.id, "order": order.id, "line": line.id, "member": users["member"].id, "game": game.id,
            "prize": game.prizes[0].id, "purchase": purchase.id}


@pytest.fixture(scope="module")
def matrix(fast_dir):
    """One app for the whole table (building an app and a schema per case would take
    minutes); each case starts from a fresh copy of the same database file (in RAM)."""
    folder = Path(tempfile.mkdtemp(dir=fast_dir))
    live, template = folder / "live.sqlite3", folder / "template.sqlite3"

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{live}"
        MALL_UPLOAD_DIR = str(folder / "uploads")
        # Hundreds of logins from one address: the limits have their own tests. (Not
        # RATELIMIT_ENABLED = False: the limiter is one object, and that would leak to later apps.)
        MALL_RATELIMIT_LOGIN = MALL_RATELIMIT_LOGIN_PER_ACCOUNT = "100000 per minute"

    app = create_app(Config, clock=FrozenClock(START))
    isolate_requests(app)
    with app.app_context():
        db.create_all()
        world = _build_world(START)
        db.session.remove()
        db.engine.dispose()
        shutil.copyfile(live, template)
        yield {"app": app, "world": world, "live": live, "template": template}


@pytest.fixture
def world(matrix):
    db.session.remove()
    db.engine.dispose()
    shutil.copyfile(matrix["template"], matrix["live"])
    return matrix["world"]


@pytest.fixture
def client(matrix, world):
    return matrix["app"].test_client()


def _as(client, role):
    if role != "anonymous":
        response = client.post("/login", data={"identifier": f"{role}@example.com", "password": PASSWORD})
        assert response.status_code == 302, f"{role} could not log in"


CASES = [(method, rule, role, expected) for (method, rule), row in ROUTES.items()
         for role, expected in zip(ROLES, row)]


@pytest.mark.parametrize("method,rule,role,expected", CASES,
                         ids=[f"{role}:{method}:{rule}" for method, rule, role, _e in CASES])
def test_every_route_for_every_role(client, world, method, rule, role, expected):
    _as(client, role)
    url = _url(rule, world)
    response = client.get(url) if method == "GET" else client.post(url, data=FORM)
    where = response.headers.get("Location", "")
    status = response.status_code
    if expected == LOGIN:
        assert status == 302 and "/login" in where, (status, where)
    elif expected == "->home":
        assert status == 302 and where.endswith(HOME[role]), (status, where)
    elif isinstance(expected, str) and expected.startswith("->"):
        assert status == 302 and where.split("?")[0].endswith(expected[2:]), (status, where)
    elif expected == ALLOWED:
        assert status not in (401, 403) and status < 500, status
        assert not (status == 302 and "/login?" in where), where
    elif expected == API:
        assert status == 401, status
    else:
        assert status == expected, (status, where)
        if expected == FORBIDDEN:
            assert "This page isn’t for your account" in response.get_data(as_text=True)


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
