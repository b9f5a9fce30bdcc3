"""Set-up shared by the in-store tests: a store with bound staff, a member with points, an
order ready for pickup, and a POS API key; plus a validator of responses against the
served OpenAPI document."""
from dataclasses import dataclass

import jsonschema_rs

from mall.checkout.orders import confirm_at_counter, place_order
from mall.checkout.quotes import LineRequest
from mall.extensions import db
from mall.instore.api_keys import create_key
from mall.instore.codes import pickup_code
from mall.instore.models import Store, StoreStaff
from tests.factories import give_points, make_category, make_item, make_tiers, make_user

ARGS = dict(hold_minutes=10, card_payments=False, points_per_unit=100)


@dataclass
class World:
    store_id: int
    other_store_id: int
    staff_id: int
    member_id: int
    member_code: str
    item_id: int
    order_id: int
    code: str        # the short code
    qr_text: str
    api_key: str     # the store's POS key secret


def make_store(code: str, name: str, *, pickup_point: bool = True) -> Store:
    store = Store(code=code, name=name, name_zh=name, region="Shanghai", pickup_point=pickup_point)
    db.session.add(store)
    db.session.flush()
    return store


def ready_order(member_id: int, item, now, *, key: str, plan=None):
    plan = plan or item.plans[0]
    order = place_order(member_id, [LineRequest(item.id, plan.id, 1)], key=key, now=now, **ARGS)
    if order.status == "awaiting_payment":
        confirm_at_counter(order.id, member_id, now)
    return order


def make_world(now, *, tiers=True) -> World:
    if tiers:
        make_tiers()
    store, other = make_store("SH-001", "Store 1, Jing'an"), make_store("SH-002", "Store 2, Pudong")
    staff = make_user(now, role="store_staff", login="staff@example.com", name="Counter Chen")
    db.session.add(StoreStaff(user_id=staff.id, store_id=store.id))
    member = make_user(now, login="member@example.com", name="Lin Xiao")
    give_points(member.id, 5000, now)
    item = make_item(now, points=1000, stock=20, plans=[("points_cash", 500, 990, None)])
    order = ready_order(member.id, item, now, key="world-order")
    hq = make_user(now, role="hq", login="hq@example.com")
    key = create_key(store.id, "Till 1", actor_id=hq.id, now=now)
    db.session.commit()
    code = pickup_code(order.id, order.number)
    return World(store_id=store.id, other_store_id=other.id, staff_id=staff.id, member_id=member.id,
                 member_code=member.member_code, item_id=item.id, order_id=order.id, code=code.short,
                 qr_text=code.qr_text, api_key=key.secret)


class OpenAPIValidator:
    """Validate a response against the document the app serves (the source of truth)."""

    def __init__(self, document: dict):
        self.doc = document

    def check(self, path: str, method: str, response) -> dict:
        operation = self.doc["paths"][path][method.lower()]
        status = str(response.status_code)
        assert status in operation["responses"], f"{method} {path} answered {status}, not in the document"
        content = operation["responses"][status]["content"]
        assert response.mimetype in content, f"{method} {path} {status}: {response.mimetype} not documented"
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                  "components": self.doc["components"], **content[response.mimetype]["schema"]}
        body = response.get_json()
        jsonschema_rs.Draft202012Validator(schema).validate(body)
        return body


def make_lined_world(now) -> World:
    """make_world plus the two categories the till's receipt lines name (fresh, kitchen)."""
    world = make_world(now)
    make_category("fresh", "Fresh food")
    make_category("kitchen", "Kitchen")
    db.session.commit()
    return world


def pos_api(client, api_key: str):
    """The POS API as a till calls it: every response checked against the served OpenAPI
    document; `call(...)` keeps the parsed body in `.body`."""
    validator = OpenAPIValidator(client.get("/api/v1/openapi.json").get_json())

    class Api:
        key = api_key

        def call(self, method, path, template=None, *, key=None, headers=None, **kw):
            headers = {"Authorization": f"Bearer {key or self.key}", **(headers or {})}
            response = client.open(f"/api/v1{path}", method=method, headers=headers, **kw)
            self.body = validator.check(template or path, method, response)
            return response
    return Api()
