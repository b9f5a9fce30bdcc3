"""One commit point per request, command and job; work registered for after the commit runs
only when the transaction commits, once; a refusal leaves nothing behind."""
import pytest
from flask import Blueprint
from sqlalchemy import func, select

from mall import create_app, unit_of_work
from mall.catalog.models import Category
from mall.checkout import orders as order_service
from mall.checkout.models import Order, OrderEvent
from mall.checkout.quotes import LineRequest
from mall.config import TestConfig
from mall.errors import DomainError
from mall.extensions import db
from mall.inventory.admission import NoAdmission
from mall.inventory.models import StockLevel
from mall.points.models import LedgerEntry, PointsAccount
from tests.factories import give_points, make_item, make_user

ARGS = dict(hold_minutes=10, card_payments=False, points_per_unit=100)


class RecordingAdmission(NoAdmission):
    """Stands in for the Redis admission counter (admits everything) and records what is given back."""

    def __init__(self):
        self.given_back = []

    def give_back(self, item_id, quantity):
        self.given_back.append((item_id, quantity))


@pytest.fixture
def member(tiers, clock):
    user = make_user(clock.now(), login="buyer@example.com")
    give_points(user.id, 5000, clock.now())
    db.session.commit()
    return user


@pytest.fixture
def admission(app):
    app.extensions["mall.admission"] = recorder = RecordingAdmission()
    return recorder


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def _balance(member):
    db.session.expire_all()
    return db.session.get(PointsAccount, member.id).balance


def _held_order(member, clock, admission=None, stock=3):
    item = make_item(clock.now(), points=2000, plans=[("points_cash", 1000, 990, None)], stock=stock)
    order = order_service.place_order(member.id, [LineRequest(item.id, item.plans[1].id, 1, 0)], key="k",
                                      now=clock.now(), **ARGS)
    unit_of_work.commit()
    if admission is not None:
        admission.given_back.clear()  # the stock received in set-up
    return item, order


def test_a_sold_out_checkout_through_the_site_leaves_no_order_no_ledger_line_and_no_stock_change(member, auth, client, clock):
    item = make_item(clock.now(), points=1000, stock=1)
    other = make_user(clock.now())
    give_points(other.id, 5000, clock.now())
    order_service.place_order(other.id, [LineRequest(item.id, item.plans[0].id, 1, 0)], key="first",
                              now=clock.now(), **ARGS)
    db.session.commit()
    before = (_count(Order), _count(OrderEvent), _count(LedgerEntry))
    auth.login("buyer@example.com")
    response = client.post(f"/catalog/{item.id}/buy", data={"plan_id": item.plans[0].id, "quantity": 1, "key": "b"})
    assert response.status_code == 409
    db.session.expire_all()
    assert (_count(Order), _count(OrderEvent), _count(LedgerEntry)) == before
    assert _balance(member) == 5000
    level = db.session.get(StockLevel, item.id)
    assert (level.received, level.reserved, level.sold) == (1, 0, 1)


def test_paying_at_the_counter_after_the_hold_ran_out_records_the_expiry_as_an_outcome(member, auth, client, clock, admission):
    item, order = _held_order(member, clock, admission)
    auth.login("buyer@example.com")
    clock.advance(minutes=11)
    response = client.post(f"/orders/{order.id}/pay-at-counter", follow_redirects=True)
    assert "The hold on this order ran out; your points were returned." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "expired"
    assert _balance(member) == 5000
    assert db.session.scalar(select(OrderEvent.kind).where(OrderEvent.order_id == order.id)
                             .order_by(OrderEvent.id.desc()).limit(1)) == "expired"
    assert admission.given_back == [(item.id, 1)]  # once, after the commit


def test_a_cancel_gives_admission_units_back_once_and_only_after_the_commit(member, clock, admission):
    item, order = _held_order(member, clock, admission)
    order_service.cancel_order(order.id, member.id, clock.now())
    assert admission.given_back == []  # nothing before the commit
    unit_of_work.commit()
    assert admission.given_back == [(item.id, 1)]
    unit_of_work.commit()
    assert admission.given_back == [(item.id, 1)]


def test_a_rolled_back_cancel_gives_nothing_back(member, clock, admission):
    item, order = _held_order(member, clock, admission)
    order_service.cancel_order(order.id, member.id, clock.now())
    unit_of_work.rollback()
    unit_of_work.commit()
    assert admission.given_back == []
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "awaiting_payment"


def test_work_registered_inside_a_rolled_back_savepoint_is_dropped_and_the_rest_runs(app):
    ran = []
    unit_of_work.after_commit(ran.append, "outer")
    try:
        with db.session.begin_nested():
            unit_of_work.after_commit(ran.append, "inner")
            raise DomainError()
    except DomainError:
        pass
    unit_of_work.commit()
    assert ran == ["outer"]


def _probe_app(tmp_path, clock, ran):
    """An app of its own with routes that write a row, register after-commit work, then
    answer in different ways (the shared test app must not grow routes)."""
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'probe.sqlite3'}"
        PROPAGATE_EXCEPTIONS = False  # answer a bug with the 500 page, as production does

    app = create_app(Config, clock=clock)
    bp = Blueprint("probe", __name__)

    def write(label):
        db.session.add(Category(slug=label, name=label, name_zh=label, position=0))
        unit_of_work.after_commit(ran.append, label)

    @bp.route("/probe/ok", methods=["POST"])
    def ok():
        write("ok")
        return "saved", 201

    @bp.route("/probe/escaped", methods=["POST"])
    def escaped():
        write("escaped")
        raise DomainError()

    @bp.route("/probe/bug", methods=["POST"])
    def bug():
        write("bug")
        raise RuntimeError("a bug")

    app.register_blueprint(bp)
    return app


def test_a_request_commits_when_no_exception_escaped_and_rolls_back_when_one_did(tmp_path, clock):
    ran = []
    app = _probe_app(tmp_path, clock, ran)
    with app.app_context():
        db.create_all()
        client = app.test_client()
        assert client.post("/probe/escaped").status_code == 500  # a domain error no view caught
        assert client.post("/probe/bug").status_code == 500
        assert _count(Category) == 0 and ran == []
        assert client.post("/probe/ok").status_code == 201
        db.session.expire_all()
        assert _count(Category) == 1 and ran == ["ok"]
        db.session.remove()


def test_a_cli_command_is_one_unit_of_work(app, member, clock):
    item, order = _held_order(member, clock)
    clock.advance(minutes=11)
    result = app.test_cli_runner().invoke(args=["mall", "jobs"])
    assert "1 expired holds released" in result.output
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "expired"
