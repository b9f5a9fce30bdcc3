"""Hostile input against every route, as every role (issue 11): no input may cause a 5xx,
and none may break an invariant that `mall audit` checks.

Nothing here lists the app's routes or fields. Routes come from `app.url_map`; form fields
come from the <form> elements of the pages each role is shown (their inputs, selects and
textareas, with the values the page filled in as the baseline), and, for actions whose page
a role never sees, from the fields of every WTForms class in the app. API operations come
from the OpenAPI document the app serves. So a new route, form or field is fuzzed the day it
is added.

For a form, one field at a time takes each hostile value while the others keep the page's
values, so the hostile value gets past the fields the form validates first. Every request is
counted; every 5xx (and every exception a test client sees, such as a refusal that wrote)
is collected, so one run reports all of them at once.
"""
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from io import BytesIO
from urllib.parse import urlencode, urlsplit

from mall.audit import run_audit

ROLES = ("anonymous", "member", "merchandiser", "store_staff", "hq")

# Values that reach a service when the edge lets them through: control characters (NUL is
# refused by PostgreSQL), strings longer than any column, integers beyond 32 and 64 bits,
# numbers in other notations and digit sets, dates at the ends of the calendar, odd text.
TEXT = ["a\x00b", "x" * 5000, "😀\u202e\u200b../%00"]
NUMBERS = ["2147483648", "-2147483649", "9" * 20, "1_0", "1e3", "NaN", "Infinity", "１２",
           "99999999999999999999.99"]
DATES = ["9999-12-31", "0001-01-01"]
DATETIMES = ["9999-12-31T23:59", "0001-01-01T00:00"]
# Sent once per route (in the query, or in every field at once) rather than per field.
EXTRA = ["\x1b[31m\x7f", "٣٣", " ", "-0"]
HOSTILE = TEXT + NUMBERS + DATES + DATETIMES + EXTRA
PATH_INTS = ["2147483648", "9" * 20]
PATH_STRINGS = ["a%00b", "x" * 300, "%F0%9F%98%80", "%ff%fe"]


@dataclass
class Found:
    role: str
    method: str
    url: str
    field: str
    value: str
    status: int
    error: str = ""

    def key(self) -> tuple:
        return (self.method, re.sub(r"\d+", "N", self.url.split("?")[0]), self.field, self.error[:80] or self.status)


@dataclass
class Report:
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)

    def distinct(self) -> list:
        seen = {}
        for f in self.failures:
            seen.setdefault(f.key(), f)
        return list(seen.values())

    def summary(self) -> str:
        lines = [f"{self.requests} requests; statuses {dict(sorted(self.statuses.items()))}"]
        for f in self.distinct():
            lines.append(f"  {f.status} {f.role} {f.method} {f.url[:120]} [{f.field}={f.value[:30]!r}] {f.error[:200]}")
        return "\n".join(lines)


class _Forms(HTMLParser):
    """The page's forms: action, method, enctype and [(name, value, kind)] per form."""

    def __init__(self):
        super().__init__()
        self.forms, self._form, self._select, self._textarea = [], None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("action") or a.get("hx-post") or "", "method": (a.get("method") or "get").upper(),
                          "multipart": "multipart" in (a.get("enctype") or ""), "fields": {}}
            self.forms.append(self._form)
        elif self._form is None or not a.get("name"):
            return
        elif tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset"):
                return
            if kind in ("radio", "checkbox") and a.get("name") in self._form["fields"] and "checked" not in a:
                return
            value = a.get("value", "on" if kind == "checkbox" else "")
            if kind == "checkbox" and "checked" not in a:
                value = ""
            self._form["fields"][a["name"]] = (value, kind)
        elif tag == "select":
            self._select = a["name"]
            self._form["fields"][a["name"]] = ("", "select")
        elif tag == "option" and self._select:
            current, _ = self._form["fields"][self._select]
            if not current or "selected" in a:
                self._form["fields"][self._select] = (a.get("value", ""), "select")
        elif tag == "textarea":
            self._textarea = a["name"]
            self._form["fields"][a["name"]] = ("", "textarea")

    def handle_data(self, data):
        if self._textarea and self._form is not None:
            self._form["fields"][self._textarea] = (data, "textarea")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def page_forms(html: str, page_url: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    for form in parser.forms:
        form["action"] = form["action"] or page_url
    return parser.forms


def wtforms_field_names() -> set[str]:
    """Every field name of every form class in the app (for actions whose page a role never
    sees), FieldList members included with their first index."""
    from mall.forms import Form

    names, stack = set(), list(Form.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        for name, unbound in vars(cls).items():
            if hasattr(unbound, "field_class"):
                names.add(name)
    return names - {"csrf_token"}


def _turned_away(response) -> bool:
    """Sent to log in or forbidden: the role's guard answered, nothing else would run."""
    return response is None or response.status_code == 403 or (
        response.status_code == 302 and "/login" in response.headers.get("Location", ""))


def _values_for(current: str, kind: str) -> list[str]:
    """Text for every field; numbers where a number could go; dates where a date goes."""
    values = list(TEXT)
    if kind in ("number", "hidden", "select", "radio", "text", "textarea") and (not current or re.fullmatch(r"-?[\d.]+", current)):
        values += NUMBERS
    if kind in ("date", "month") or (kind == "text" and not current):
        values += DATES
    if kind in ("datetime-local", "time") or (kind == "text" and not current):
        values += DATETIMES
    return values


def unlimited(app) -> None:
    """The rate limits have their own tests; here they would turn the walk into 429s."""
    limits = [name for name, value in app.config.items()
              if name.startswith("MALL_RATELIMIT_") and isinstance(value, str)]
    app.config.update({name: "1000000 per minute" for name in limits},
                      MALL_EARN_RATE_LIMIT="1000000 per minute", MALL_CODE_ENTRY_RATE_LIMIT="1000000 per minute")


class Fuzzer:
    """Walks app.url_map as one logged-in client per role."""

    def __init__(self, app, params: dict, login):
        self.app, self.params, self.login = app, params, login
        self.report = Report()
        self.generic_fields = sorted(wtforms_field_names())
        # A form is fuzzed field by field once, as the first role shown it (roles that share a
        # form share its view); every role still gets every route and the all-fields batch.
        self.seen_forms = set()

    # --- requests -------------------------------------------------------------------------

    def send(self, client, role, method, url, *, field="", value="", **kwargs):
        self.report.requests += 1
        try:
            response = client.open(url, method=method, **kwargs)
        except Exception as exc:  # the test client re-raises what a server would answer 500
            self.report.failures.append(Found(role, method, url, field, value, 500, f"{type(exc).__name__}: {exc}"))
            return None
        self.report.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.report.failures.append(Found(role, method, url, field, value, response.status_code,
                                              response.get_data(as_text=True)[:200]))
        return response

    # --- the walk -------------------------------------------------------------------------

    def run(self) -> Report:
        before = [(f.check, f.violations) for f in run_audit()]
        for role in ROLES:
            client = self.app.test_client()
            if role != "anonymous":
                self.login(client, role)
            self.walk(client, role)
        self.api(self.app.test_client())
        after = [(f.check, f.violations) for f in run_audit()]
        if after != before:
            self.report.failures.append(Found("-", "-", "mall audit", "", "", 0, f"audit changed: {after}"))
        return self.report

    def rules(self):
        for rule in sorted(self.app.url_map.iter_rules(), key=lambda r: r.rule):
            if rule.endpoint in ("static", "accounts.logout") or rule.rule.startswith("/api/"):
                continue  # static files have nothing to submit; logout would end the walk
            yield rule

    def url(self, rule, **override) -> str:
        values = {}
        for name in rule.arguments:
            values[name] = override.get(name, self.params.get(name, "1"))
        path = rule.rule
        for name, value in values.items():
            path = re.sub(rf"<(?:[^:>]+:)?{name}>", str(value), path)
        return path

    def walk(self, client, role):
        seen_forms = self.seen_forms
        for rule in self.rules():
            methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
            url = self.url(rule)
            # Path arguments out of range or odd, one at a time.
            for name, converter in rule._converters.items():
                hostile = PATH_INTS if type(converter).__name__.lower().startswith(("int", "bounded")) else PATH_STRINGS
                for value in hostile:
                    for method in methods:
                        self.send(client, role, method, self.url(rule, **{name: value}), field=name, value=value)
            if "GET" in methods:
                response = self.send(client, role, "GET", url)
                if _turned_away(response):
                    continue
                if response.status_code == 200 and "html" in response.content_type:
                    for form in page_forms(response.get_data(as_text=True), url):
                        signature = (form["method"], re.sub(r"\d+", "N", urlsplit(form["action"]).path),
                                     tuple(sorted(form["fields"])))
                        if signature not in seen_forms:
                            seen_forms.add(signature)
                            self.form(client, role, form)
                # Query parameters the page's GET forms do not name (paging, sorting, filters).
                for value in TEXT + NUMBERS[:3:2] + EXTRA[:1]:
                    query = {name: value for name in ("page", "q", "store", "sort", "next", "tab", "kind", "code")}
                    self.send(client, role, "GET", url + "?" + urlencode(query), field="query", value=value)
            if "POST" in methods:
                if _turned_away(self.send(client, role, "POST", url, data={})):
                    continue  # the guard answers before any input is read
                # Every known field name at once, for actions this role's pages never showed.
                for value in TEXT + NUMBERS[:3] + NUMBERS[5:7] + DATES + DATETIMES + EXTRA[:2]:
                    self.send(client, role, "POST", url, data={n: value for n in self.generic_fields},
                              field="*", value=value)
                self.send(client, role, "POST", url, data=b"\xff\xfe\x00=\x00",
                          content_type="application/x-www-form-urlencoded", field="body", value="bytes")

    def form(self, client, role, form):
        try:
            endpoint, _args = self.app.url_map.bind("localhost").match(urlsplit(form["action"]).path, form["method"])
        except Exception:
            endpoint = None
        if endpoint == "accounts.logout":
            return  # it would end the role's session, and has no fields
        if form["multipart"]:
            return self.upload(client, role, form)
        baseline = {name: value for name, (value, _kind) in form["fields"].items() if name != "csrf_token"}
        repeated = set()
        for name, (current, kind) in form["fields"].items():
            shape = re.sub(r"\d+", "N", name)  # plans-0-cash, plans-1-cash: one list of sub-forms
            if name == "csrf_token" or shape in repeated:
                continue
            repeated.add(shape)
            for value in _values_for(current, kind):
                data = dict(baseline, **{name: value})
                if form["method"] == "GET":
                    self.send(client, role, "GET", form["action"].split("?")[0] + "?" + urlencode(data),
                              field=name, value=value)
                else:
                    self.send(client, role, form["method"], form["action"], data=data, field=name, value=value)
        if form["method"] == "POST":
            self.send(client, role, "POST", form["action"], data={k: v for k, v in baseline.items() if k != "key"},
                      field="(no key)", value="")

    def upload(self, client, role, form):
        """File uploads: CSV and images with hostile content (the CSV cells get every value)."""
        columns = ["sku", "name", "name_zh", "category", "min_tier", "points_price", "per_member_limit", "published",
                   "receive"]
        good = ["FZ-1", "Fuzz", "", "home", "", "100", "", "no", "1"]
        header = ",".join(columns) + "\n"
        rows = []
        for i in range(len(columns)):  # one column hostile at a time, the rest a valid row
            for value in TEXT + ["2147483648", "9" * 20, "1e3", "１２", "=HYPERLINK(\"x\")"]:
                cells = list(good)
                cells[i] = value
                rows.append(header + ",".join('"' + c.replace('"', '""') + '"' for c in cells) + "\n")
        rows += [b"\xff\xfe garbage", b"", header * 3, header + "FZ-2,Name,,home,,10,,no,\r\n" * 3 + "\x00"]
        file_fields = [n for n, (_v, kind) in form["fields"].items() if kind == "file"]
        for content in rows:
            payload = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content
            data = {n: v for n, (v, kind) in form["fields"].items() if kind != "file" and n != "csrf_token"}
            for name in file_fields:
                data[name] = (BytesIO(payload), "fuzz.csv")
            self.send(client, role, "POST", form["action"], data=data, content_type="multipart/form-data",
                      field="file", value=content[:40] if isinstance(content, str) else "bytes")

    # --- the JSON API ---------------------------------------------------------------------

    def api(self, client):
        document = client.get("/api/v1/openapi.json").get_json()
        headers = {"Authorization": f"Bearer {self.params.get('api_key', 'pm_live_nope')}"}
        odd_bodies = [b'{"receipt_no": "R1", "receipt_no": "R2", "amount_minor": 100}', b"[]", b"null", b"1e400",
                      b'{"amount_minor": 1e400}', b"[" * 5000, b"\xff\xfe", b'{"a": "\\ud800"}',
                      json.dumps({"receipt_no": "R\x00", "amount_minor": 2 ** 70, "code": "x" * 5000,
                                  "member": {"mobile": "１３８００００００００"}}).encode(),
                      json.dumps({"receipt_no": "R-fuzz", "amount_minor": 100, "member": [1, 2]}).encode(),
                      json.dumps({"code": ["a"], "cash_method": {"x": 1}}).encode()]
        for path, operations in document["paths"].items():
            for method in operations:
                url = "/api/v1" + re.sub(r"\{[^}]+\}", "R1", path)
                for body in odd_bodies:
                    self.send(client, "api", method.upper(), url, data=body, headers=headers,
                              content_type="application/json", field="body", value=body[:30].decode("latin-1"))
                for value in PATH_STRINGS + ["１２３４５", "٣٣٣٣٣"]:
                    odd = "/api/v1" + re.sub(r"\{[^}]+\}", value, path)
                    self.send(client, "api", method.upper(), odd + "?mobile=" + value, headers=headers,
                              field="path", value=value)
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            self.send(client, "api", method, "/api/v1/nowhere", headers=headers, field="path", value="nowhere")


# --- the world the walk starts from ---------------------------------------------------------

def build_world(now) -> dict:
    """Each role with something to look at: a member with points, an order waiting at the
    staff member's store (with its pickup code), a cart line, an API key. Returns the values
    for the rules' placeholders."""
    from mall.checkout import cart
    from mall.checkout.quotes import LineRequest
    from mall.extensions import db
    from tests.factories import make_user
    from tests.instore_world import make_world

    world = make_world(now)
    make_user(now, role="merchandiser", login="merchandiser@example.com")
    from mall.catalog.models import Item
    item = db.session.get(Item, world.item_id)
    line = cart.add(world.member_id, LineRequest(item.id, item.plans[0].id, 1), now, points_per_unit=100)
    from tests.games_world import make_game
    game = make_game(now)
    booking = _service_booking(world, now)
    purchase = _store_purchase(world, now)
    db.session.commit()
    return {"booking_id": booking.id, "item_id": world.item_id, "order_id": world.order_id, "line_id": line.id, "member_id": world.member_id,
            "store_id": world.store_id, "staff_id": world.staff_id, "code": world.code, "receipt_no": "R1",
            "action": "cancel", "token": "nope", "chart": "trend", "segment": "loyal", "rule_key": "nope",
            "name": "items/none.webp", "filename": "css/mall.css", "api_key": world.api_key,
            "game_id": game.id, "prize_id": game.prizes[0].id, "purchase_id": purchase.id}


def _store_purchase(world, now):
    """A till's receipt credited to the member, partly refunded: the receipt page has lines,
    points and a refund (and its "Question this" links) to walk."""
    from mall.instore.purchases import LineInput, RefundLine, earn_for_member, refund_purchase
    lines = [LineInput(6_000, sku="FZ-A", name="Fuzz tea", quantity=2), LineInput(4_000, sku="FZ-B", name="Fuzz cup")]
    purchase, _ = earn_for_member(world.store_id, "FZ-R1", 10_000, world.member_id, now=now, code_hours=24,
                                  minor_per_point=100, lines=lines)
    refund_purchase(world.store_id, "FZ-R1", now=now, lines=[RefundLine(1, 1)], refund_no="FZ-RF1")
    return purchase


def _service_booking(world, now):
    """A home service with slots at the staff member's store, booked by the member: the
    booking pages (reschedule, cancel, mark done, the console's slots) have something real."""
    from datetime import timedelta

    from mall.bookings import services as bookings
    from mall.checkout.orders import place_order
    from mall.checkout.quotes import LineRequest
    from tests.factories import make_item
    service = make_item(now, name="Fuzz cleaning", points=100, stock=0, kind="service")
    slots = bookings.add_slots(service, starts_at=now + timedelta(days=3), minutes=60, store_id=world.store_id,
                               at_home=True, capacity=3, repeat_days=2, now=now)
    order = place_order(world.member_id, [LineRequest(service.id, service.plans[0].id, 1)], key="fuzz-service",
                        now=now, hold_minutes=10, card_payments=False, points_per_unit=100,
                        book=lambda o, when: bookings.book(o, slot_id=slots[0].id, address="1 Road", now=when))
    return bookings.booking_of(order.id)


LOGINS = {"member": "member@example.com", "merchandiser": "merchandiser@example.com",
          "store_staff": "staff@example.com", "hq": "hq@example.com"}


def login(client, role):
    from tests.factories import PASSWORD
    response = client.post("/login", data={"identifier": LOGINS[role], "password": PASSWORD})
    assert response.status_code == 302, f"{role} could not log in"
