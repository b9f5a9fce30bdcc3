"""The two measurements issue 15's closing analysis rests on measure what they say:
- bench/floor.py's app answers a member's buy as a successful checkout does (HTMX redirect)
  through the same guard and hooks, and writes nothing;
- bench/write_path_function.py's PL/pgSQL function, generated from the app's own SQL
  strings, writes the rows the app's statements write."""
from sqlalchemy import func, select

from bench.floor import floored
from bench.write_path_function import Checkouts, app_statements, by_function, by_statements, function_sql, item_facts
from mall.audit import run_audit
from mall.checkout.models import Order
from mall.extensions import db
from mall.points.models import LedgerEntry
from tests.factories import PASSWORD, give_points, make_item, make_tiers, make_user
from tests.integration.test_checkout_fast_path_pg import _snapshot


def test_the_floor_answers_a_members_buy_like_a_checkout_and_writes_nothing(pg_app, clock):
    make_tiers()
    make_user(clock.now(), login="floor@example.com")
    item = make_item(clock.now(), points=10, stock=5)
    db.session.commit()
    floored(pg_app)
    client = pg_app.test_client()
    buy = {"plan_id": item.plans[0].id, "quantity": 1, "key": "k1"}

    anonymous = client.post(f"/catalog/{item.id}/buy", data=buy)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]

    client.post("/login", data={"identifier": "floor@example.com", "password": PASSWORD})
    answer = client.post(f"/catalog/{item.id}/buy", data=buy, headers={"HX-Request": "true"})
    assert answer.status_code == 200
    assert answer.headers["HX-Redirect"].startswith("/orders/")
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.source == "order")) == 0


def test_the_measured_function_writes_what_the_apps_statements_write(pg_app, clock):
    import psycopg
    make_tiers()
    members = []
    for login in ("statements@example.com", "function@example.com"):
        member_id = make_user(clock.now(), login=login).id
        for points, days in [(1000, 300), (300, 10), (900, 100)]:  # the spend takes from two lots
            give_points(member_id, points, clock.now(), days_valid=days)
        members.append(member_id)
    item = make_item(clock.now(), points=500, stock=10)
    checkouts = Checkouts(item_facts(item, item.plans[0]))
    db.session.commit()
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:  # each checkout its own transaction, as in the bench
        conn.execute(function_sql())
        try:
            by_statements(conn, app_statements(), checkouts.params(members[0], "phone-a", clock.now()))
            by_function(conn, app_statements(), checkouts.params(members[1], "phone-a", clock.now()))
        finally:  # the session's schema stays as the migrations made it
            conn.execute("DROP FUNCTION checkout_write")
    db.session.remove()

    written = [_snapshot(db.session.scalar(select(Order).where(Order.member_id == m))) for m in members]
    assert written[0]["entry"]["points"] == -500 and len(written[0]["lot_movements"]) == 2
    assert written[0] == written[1]
    assert not [finding for finding in run_audit() if finding.violations]
