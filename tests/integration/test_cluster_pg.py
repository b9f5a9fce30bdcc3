"""Several app nodes behind HAProxy (scripts/cluster), sharing PostgreSQL and Redis: one
member's requests land on different nodes and everything that must be shared is — the
session (cookie signed by the shared SECRET_KEY, its version in the database), the CSRF
token, rate limits, admission counters — the invariants hold (`mall audit`, no oversell,
one effect per intent), and a node killed mid-run loses nothing: its in-flight orders are
either committed or left nothing, and their holds expire as usual.

One cluster for the module (starting gunicorn nodes costs seconds); every request goes to
the balancer unless a test aims at one node on purpose.
"""
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from flask_migrate import upgrade
from sqlalchemy import func, select

from mall import create_app
from mall.audit import run_audit
from mall.checkout import jobs
from mall.checkout.models import Order
from mall.clock import FrozenClock, SystemClock
from mall.config import TestConfig
from mall.extensions import db
from mall.inventory import reservations
from mall.inventory.admission import KEY
from mall.points.models import PointsAccount
from tests.concurrency import race
from tests.factories import PASSWORD, give_points, make_item, make_user
from tests.instore_world import make_world
from tests.services import create_pg_database, drop_pg_database, redis_url, unavailable

ROOT = Path(__file__).resolve().parents[2]
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
MEMBERS = 8
HOT_STOCK = 5        # fewer units than members: the flash sale must not oversell
HELD_STOCK = 40      # points + cash at the counter: each order holds its unit for 10 minutes

pytestmark = pytest.mark.postgres


def _free_base_port() -> int:
    """A balancer port with the two node ports after it free (MALL_TEST_CLUSTER_PORT first)."""
    first = int(os.environ.get("MALL_TEST_CLUSTER_PORT", "18100"))
    for base in range(first, first + 90, 3):
        try:
            for port in (base, base + 1, base + 2):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free ports for the cluster")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not os.path.exists(HAPROXY) and os.environ.get("MALL_REQUIRE_SERVICES") != "1":
        unavailable("haproxy is not installed (scripts/cluster installs it)")
    url, name = create_pg_database()
    redis = redis_url()
    secret = "cluster-" + secrets.token_hex(8)

    class Config(TestConfig):
        SECRET_KEY = secret  # the nodes' own: pickup codes are signed with it
        SQLALCHEMY_DATABASE_URI = url
        REDIS_URL = redis
        MALL_STRICT_REFUSALS = False  # this app only seeds, audits and runs jobs

    app = create_app(Config, clock=SystemClock())
    with app.app_context():
        upgrade()
        app.extensions["mall.redis"].flushdb()
        now = app.extensions["mall.clock"].now()
        world = make_world(now)  # tiers, a store with its staff, a member's order ready for pickup
        members = [make_user(now, login=f"node-member{i}@example.com") for i in range(MEMBERS)]
        for member in members:
            give_points(member.id, 20_000, now)
        hot = make_item(now, name="Flash speaker", points=100, stock=HOT_STOCK)
        held = make_item(now, name="Held kettle", points=100, stock=HELD_STOCK,
                         plans=[("points_cash", 100, 500, None)])
        twin = make_item(now, name="Twin-tapped lamp", points=100, stock=10)
        db.session.commit()
        seeded = dict(world=world, members=[m.id for m in members], hot=hot.id, hot_plan=hot.plans[0].id,
                      held=held.id, held_plan=held.plans[-1].id, twin=twin.id, twin_plan=twin.plans[0].id)
        db.engine.dispose()

    run_dir = tmp_path_factory.mktemp("cluster")
    base = _free_base_port()
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis, "SECRET_KEY": secret,
           "MALL_ENV": "production", "SESSION_COOKIE_SECURE": "0", "MALL_CLUSTER_DIR": str(run_dir),
           "MALL_CLUSTER_PORT": str(base), "MALL_CLUSTER_NODES": "2", "MALL_CLUSTER_WORKERS": "1",
           "MALL_CLUSTER_THREADS": "8", "MALL_CLUSTER_GRACEFUL_TIMEOUT": "5",
           # The shared limit the test trips on purpose; the others stay out of its way.
           "MALL_RATELIMIT_RESET": "4 per minute", "MALL_RATELIMIT_LOGIN": "1000 per minute"}
    started = subprocess.run(["bash", str(ROOT / "scripts/cluster"), "start"], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=180)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield dict(seeded, app=app, base=f"http://127.0.0.1:{base}",
                   nodes={"node1": f"http://127.0.0.1:{base + 1}", "node2": f"http://127.0.0.1:{base + 2}"},
                   run_dir=run_dir)
    finally:
        subprocess.run(["bash", str(ROOT / "scripts/cluster"), "stop"], env=env, cwd=ROOT, timeout=120)
        drop_pg_database(name)


def _csrf(response) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.text).group(1)


def _login(base: str, login: str, password: str = PASSWORD) -> tuple[requests.Session, set]:
    browser, seen = requests.Session(), set()
    page = browser.get(f"{base}/login")
    answer = browser.post(f"{base}/login", data={"identifier": login, "password": password,
                                                 "csrf_token": _csrf(page)}, allow_redirects=False)
    assert answer.status_code == 302, answer.status_code
    seen |= {page.headers["X-Mall-Node"], answer.headers["X-Mall-Node"]}
    return browser, seen


def _buy(browser, base, item_id, plan_id, key, token):
    return browser.post(f"{base}/catalog/{item_id}/buy", allow_redirects=False, timeout=30,
                        data={"plan_id": plan_id, "quantity": 1, "key": key, "csrf_token": token})


def _audit_violations(app) -> list:
    with app.app_context():
        found = [(f.check, f.violations) for f in run_audit() if f.violations]
        db.session.remove()
        return found


def test_healthz_answers_the_balancer_without_a_session(cluster):
    for node, address in cluster["nodes"].items():
        answer = requests.get(f"{address}/healthz", timeout=5)
        assert answer.status_code == 200 and answer.json() == {"db": "ok", "redis": "ok", "node": node}
        assert "Set-Cookie" not in answer.headers


def test_one_members_session_csrf_token_and_logout_work_on_every_node(cluster):
    base = cluster["base"]
    browser, seen = _login(base, "node-member0@example.com")
    for _ in range(10):  # round robin alternates; a few more in case a check flapped
        page = browser.get(f"{base}/points/statement", allow_redirects=False)
        assert page.status_code == 200
        seen.add(page.headers["X-Mall-Node"])
        if len(seen) == 2:
            break
    assert seen == {"node1", "node2"}  # round robin, no stickiness: the session is shared
    # A token minted by one node is accepted by the other (it lives in the signed session).
    token = _csrf(requests.Session().get(f"{base}/login"))  # (a stranger's: refused below)
    other, _ = _login(base, "node-member0@example.com")    # the same member on a second phone
    own = _csrf(browser.get(f"{cluster['nodes']['node1']}/tasks"))
    answer = browser.post(f"{cluster['nodes']['node2']}/tasks/check-in", data={"csrf_token": own},
                          headers={"HX-Request": "true"})
    assert answer.status_code == 200 and answer.headers["X-Mall-Node"] == "node2"
    assert browser.post(f"{base}/tasks/check-in", data={"csrf_token": token},
                        headers={"HX-Request": "true"}).status_code == 400
    # Logging out on one node ends the account's sessions everywhere (the version is in the DB).
    browser.post(f"{base}/logout", data={"csrf_token": own})
    for address in cluster["nodes"].values():
        gone = other.get(f"{address}/points/statement", allow_redirects=False)
        assert gone.status_code == 302 and "/login" in gone.headers["Location"]


def test_a_check_in_sent_to_both_nodes_at_once_counts_once(cluster):
    browser, _ = _login(cluster["base"], "node-member1@example.com")
    token = _csrf(browser.get(f"{cluster['base']}/tasks"))
    urls = list(cluster["nodes"].values())
    statuses = race(cluster["app"], 2, lambda i: browser.post(
        f"{urls[i]}/tasks/check-in", data={"csrf_token": token}, headers={"HX-Request": "true"}).status_code,
        returns=True)
    assert sorted(statuses) == [200, 409], statuses
    assert not _audit_violations(cluster["app"])


def test_rate_limits_are_counted_across_nodes(cluster):
    """4 password-reset requests a minute per address: the 5th is refused, though each node
    saw at most three."""
    browser, seen = requests.Session(), set()
    token = _csrf(browser.get(f"{cluster['base']}/password/forgot"))
    statuses = []
    for _ in range(5):
        answer = browser.post(f"{cluster['base']}/password/forgot", data={"csrf_token": token, "identifier": ""})
        statuses.append(answer.status_code)
        seen.add(answer.headers.get("X-Mall-Node"))
    assert statuses[:4] == [422] * 4 and statuses[4] == 429, statuses
    assert seen == {"node1", "node2"}


def test_the_same_checkout_submitted_to_both_nodes_makes_one_order(cluster):
    browser, _ = _login(cluster["base"], "node-member2@example.com")
    token = _csrf(browser.get(f"{cluster['base']}/catalog/{cluster['twin']}"))
    urls = list(cluster["nodes"].values())
    answers = race(cluster["app"], 2, lambda i: _buy(browser, urls[i], cluster["twin"], cluster["twin_plan"],
                                                     "one-intent", token), returns=True)
    assert {a.status_code for a in answers} == {302}, [a.status_code for a in answers]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]  # the same order
    with cluster["app"].app_context():
        assert db.session.scalar(select(func.count()).select_from(Order)
                                 .where(Order.member_id == cluster["members"][2])) == 1
        db.session.remove()


def test_a_flash_sale_across_nodes_never_oversells_and_shares_the_admission_counter(cluster):
    base, app = cluster["base"], cluster["app"]
    browsers = [_login(base, f"node-member{i}@example.com")[0] for i in range(2, MEMBERS)]
    token_of = [_csrf(b.get(f"{base}/catalog/{cluster['hot']}")) for b in browsers]
    answers = race(app, len(browsers), lambda i: _buy(browsers[i], base, cluster["hot"], cluster["hot_plan"],
                                                      f"hot-{i}", token_of[i]), returns=True)
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(302) == HOT_STOCK and set(statuses) <= {302, 409}, statuses
    assert {a.headers["X-Mall-Node"] for a in answers} == {"node1", "node2"}
    with app.app_context():
        assert reservations.available(cluster["hot"]) == 0
        assert int(app.extensions["mall.redis"].get(KEY.format(item_id=cluster["hot"]))) == 0
        db.session.remove()
    # Sold out on the shared counter: both nodes now refuse from one Redis read.
    for address in cluster["nodes"].values():
        late = _buy(browsers[0], address, cluster["hot"], cluster["hot_plan"], "late", token_of[0])
        assert late.status_code == 409
    assert not _audit_violations(app)


def test_a_pickup_handed_over_at_two_nodes_at_once_is_handed_over_once(cluster):
    world = cluster["world"]
    staff, _ = _login(cluster["base"], "staff@example.com")
    token = _csrf(staff.get(f"{cluster['base']}/counter"))
    urls = list(cluster["nodes"].values())
    statuses = race(cluster["app"], 2, lambda i: staff.post(
        f"{urls[i]}/counter/pickup", data={"code": world.code, "store": world.store_id, "csrf_token": token},
        headers={"HX-Request": "true"}).status_code, returns=True)
    assert sorted(statuses) == [200, 409], statuses


def test_a_node_killed_mid_run_leaves_committed_orders_or_nothing_and_holds_expire(cluster):
    base, app, run_dir = cluster["base"], cluster["app"], cluster["run_dir"]
    browsers = [_login(base, f"node-member{i}@example.com")[0] for i in range(MEMBERS)]
    tokens = [_csrf(b.get(f"{base}/catalog/{cluster['held']}")) for b in browsers]
    with app.app_context():
        stock_before = reservations.available(cluster["held"])
        balances_before = dict(db.session.execute(select(PointsAccount.member_id, PointsAccount.balance)).all())
        db.session.remove()
    victim = int((run_dir / "node2.pid").read_text())

    def shop(i):
        """Member i buys three held kettles in a row; the node dies during the second round."""
        outcomes = []
        for n in range(3):
            if i == 0 and n == 1:
                os.killpg(victim, signal.SIGKILL)  # the node and its workers, as a crash would
            try:
                outcomes.append(_buy(browsers[i], base, cluster["held"], cluster["held_plan"], f"kill-{i}-{n}",
                                     tokens[i]).status_code)
            except requests.RequestException:
                outcomes.append("lost")
        return outcomes

    results = race(app, MEMBERS, shop, returns=True)
    flat = [status for outcome in results for status in outcome]
    assert flat.count(302) >= MEMBERS, results  # the surviving node kept serving
    assert set(flat) <= {302, 502, 503, "lost"}, results
    with pytest.raises(requests.ConnectionError):  # node2 really is gone
        requests.get(f"{cluster['nodes']['node2']}/healthz", timeout=2)
    print("checkouts while node2 was killed:", results)
    with app.app_context():
        orders = {o.idempotency_key: o for o in db.session.scalars(select(Order).where(
            Order.idempotency_key.like("kill-%")))}
        # Every answered checkout committed its order; an unanswered one committed or left nothing.
        for i, outcome in enumerate(results):
            for n, status in enumerate(outcome):
                if status == 302:
                    assert f"kill-{i}-{n}" in orders
        held_units = len(orders)
        assert reservations.available(cluster["held"]) == stock_before - held_units
        db.session.remove()
    assert not _audit_violations(app)

    # The holds run out as usual: the jobs release every unit and refund every point.
    later = FrozenClock(app.extensions["mall.clock"].now() + timedelta(minutes=11))
    expiring = create_app(type("Later", (), dict(app.config)), clock=later)
    with expiring.app_context():
        released = jobs.expire_holds(later.now(), None, hold_minutes=10)
        db.session.commit()
        assert released >= held_units
        assert reservations.available(cluster["held"]) == HELD_STOCK
        balances_after = dict(db.session.execute(select(PointsAccount.member_id, PointsAccount.balance)).all())
        assert {m: balances_after[m] for m in cluster["members"]} == {m: balances_before[m] for m in cluster["members"]}
        db.session.remove()
        db.engine.dispose()
    assert not _audit_violations(app)
