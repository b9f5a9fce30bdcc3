"""How many SQL statements a checkout costs on PostgreSQL (issue 15, items 2 and 3): a
successful points-only buy through the real view, and a refused tap on a sold-out item,
which the Redis sold-out gate answers without touching the database."""
import pytest
from sqlalchemy import event, update

from mall import rawsql
from mall.accounts.models import User

from mall.checkout.models import Order, OrderEvent
from mall.inventory.models import Reservation, StockLevel, StockMovement
from mall.points.models import LedgerEntry, LotMovement, PointLot, PointsAccount
from mall.risk.models import OrderOrigin
from mall.extensions import db
from tests.factories import PASSWORD, give_points, make_item, make_tiers, make_user

# Statements per successful points-only checkout: 39 before issue 15, 29 after its first
# pass, 18 after its second, 12 after its third, 9 with the fast path, 7 now that the fast
# path has no savepoint (a regression guard; docs/benchmarks.md). The 7, in order:
#   member (login) · item + plans + category + tier prices + lowest tier · account row and
#   the member's live lots FOR UPDATE (one statement) · order (written ready: paid in points;
#   ON CONFLICT (member, key) DO NOTHING) + its line + its "placed" and "ready" events +
#   balance UPDATE + ledger entry + lot UPDATEs + lot movements (one statement,
#   mall/checkout/fast_path.py) · order origin + sighting UPDATE + address count + cluster
#   size (risk screening, one statement) · notification INSERT (reads the opt-out itself) ·
#   stock UPDATE with its reservation and stock movement (one statement, data-modifying
#   CTEs; last, then COMMIT).
# The fast path's statements run on the raw psycopg connection (mall/rawsql.py); the
# recorder below counts them too.
# Not run for this item: the look-ups of the key (a replay's order INSERT skips the taken
# key and writes nothing; place_order then reads the first order), the tier (its price is
# the same in every tier), SAVEPOINT/RELEASE (a refusal after the write rolls the request's
# transaction back instead).
SUCCESS_LIMIT = 7


@pytest.fixture
def statements(pg_app):
    """Every SQL statement the engine sends while the test runs `with statements as seen:`."""
    class Recorder:
        def __init__(self):
            self.seen = []

        def __enter__(self):
            self.seen.clear()
            event.listen(db.engine, "before_cursor_execute", self._record)
            rawsql.observers.append(self._record_raw)  # the fast path's statements skip the engine
            return self.seen

        def __exit__(self, *exc):
            event.remove(db.engine, "before_cursor_execute", self._record)
            rawsql.observers.remove(self._record_raw)

        def _record(self, conn, cursor, statement, parameters, context, executemany):
            self.seen.append(" ".join(statement.split()))

        def _record_raw(self, statement, parameters):
            self.seen.append(" ".join(statement.split()))
    return Recorder()


def _logged_in(app, login):
    client = app.test_client()
    client.post("/login", data={"identifier": login, "password": PASSWORD})
    return client


def _show(seen):
    print(f"\n{len(seen)} statements:")
    for n, s in enumerate(seen, 1):
        print(f"{n:3}. {s[:160]}")


def test_a_points_only_checkout_costs_at_most_the_budgeted_statements(pg_app, clock, statements):
    make_tiers()
    member = make_user(clock.now(), login="lean@example.com")
    give_points(member.id, 5000, clock.now())
    item = make_item(clock.now(), points=1000, stock=5)
    db.session.commit()
    item_id = item.id
    url, form = f"/catalog/{item.id}/buy", {"plan_id": item.plans[0].id, "quantity": 1}
    client = _logged_in(pg_app, "lean@example.com")
    # A first buy warms what a real shop has warm (the member's session, the admission counter).
    assert client.post(url, data={**form, "key": "warm-up"}).status_code == 302
    db.session.remove()  # each request of a real server starts with an empty session

    with statements as seen:
        response = client.post(url, data={**form, "key": "measured"})
    _show(seen)

    assert response.status_code == 302
    db.session.expire_all()
    order = db.session.query(Order).filter_by(idempotency_key="measured").one()
    assert order.status == "ready"
    # Everything the fewer statements must still write: the sale, its stock trail, the spend.
    assert [(r.status, r.quantity) for r in db.session.query(Reservation).filter_by(order_id=order.id)] == [("confirmed", 1)]
    assert db.session.query(StockMovement).filter_by(reference=f"order:{order.id}", kind="sell").count() == 1
    assert db.session.get(StockLevel, item_id).sold == 2
    assert [e.kind for e in db.session.query(OrderEvent).filter_by(order_id=order.id).order_by(OrderEvent.id)] \
        == ["placed", "ready_for_pickup"]
    entry = db.session.query(LedgerEntry).filter_by(source="order", idempotency_key=f"order:{order.id}").one()
    assert (entry.points, entry.balance_after, entry.detail["order_id"]) == (-1000, 3000, order.id)
    assert [(l.item_id, l.quantity, l.points) for l in order.lines] == [(item_id, 1, 1000)]
    assert db.session.get(PointsAccount, order.member_id).balance == 3000
    assert [m.points for m in db.session.query(LotMovement).filter_by(entry_id=entry.id)] == [-1000]
    assert sum(lot.remaining for lot in db.session.query(PointLot).filter_by(member_id=order.member_id)) == 3000
    assert db.session.get(OrderOrigin, order.id) is not None  # risk screening's record of where it came from
    assert len(seen) <= SUCCESS_LIMIT


def test_a_tap_on_a_sold_out_item_costs_no_statement(pg_app, clock, statements):
    make_tiers()
    for login in ("first@example.com", "late@example.com"):
        # Members who signed up on the site have a language; the session carries it from login.
        give_points(make_user(clock.now(), login=login).id, 5000, clock.now())
    item = make_item(clock.now(), points=1000, stock=1)
    db.session.execute(update(User).values(locale="en"))
    db.session.commit()
    url, form = f"/catalog/{item.id}/buy", {"plan_id": item.plans[0].id, "quantity": 1}
    first, late = _logged_in(pg_app, "first@example.com"), _logged_in(pg_app, "late@example.com")
    assert first.post(url, data={**form, "key": "last-unit"}).status_code == 302

    with statements as seen:  # a tap from the item page's buy form (HTMX)
        refused = late.post(url, data={**form, "key": "too-late"}, headers={"HX-Request": "true"})
    _show(seen)
    assert refused.status_code == 409
    assert seen == []

    with statements as seen:  # without JavaScript: a whole page, whose header shows the member
        refused_page = late.post(url, data={**form, "key": "too-late-2"})
    _show(seen)
    assert refused_page.status_code == 409
    assert [s.split(" FROM ")[1].split()[0] for s in seen] == ["users"]
