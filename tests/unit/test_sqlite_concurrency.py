"""The embedded default (a SQLite file) under concurrent buys: every buyer gets an order or
a clear "sold out", never a 500 "database is locked" (issue 11, item 8)."""
import threading

from sqlalchemy import func, select, text

from mall.checkout.models import Order
from mall.extensions import db
from tests.factories import PASSWORD, give_points, make_item, make_user


def test_six_simultaneous_buys_on_sqlite_answer_200_or_409_never_500(app, tiers, clock):
    item = make_item(clock.now(), points=100, stock=3)
    logins = [f"buyer{i}@example.com" for i in range(6)]
    for login in logins:
        give_points(make_user(clock.now(), login=login).id, 1000, clock.now())
    db.session.commit()
    plan_id, item_id = item.plans[0].id, item.id
    clients = []
    for login in logins:
        c = app.test_client()
        assert c.post("/login", data={"identifier": login, "password": PASSWORD}).status_code == 302
        clients.append(c)
    db.session.remove()  # the test's own connection holds no snapshot while the buyers run
    statuses, barrier = [None] * 6, threading.Barrier(6)

    def buy(i):
        barrier.wait()
        try:
            statuses[i] = clients[i].post(f"/catalog/{item_id}/buy",
                                          data={"plan_id": plan_id, "quantity": 1, "key": f"k{i}"}).status_code
        except Exception as exc:  # noqa: BLE001  (an escaped "database is locked" is a 500)
            statuses[i] = repr(exc)

    threads = [threading.Thread(target=buy, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert sorted(statuses, key=str) == [302, 302, 302, 409, 409, 409], statuses
    assert db.session.scalar(select(func.count()).select_from(Order)) == 3
    assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
