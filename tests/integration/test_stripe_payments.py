"""Card payments through the real Stripe SDK against a local stand-in, with webhooks signed
by the test, on real PostgreSQL and Redis."""
import json
import time

import pytest
import stripe
from sqlalchemy import func, select

from mall.checkout.models import Order, Payment
from mall.extensions import db
from mall.inventory.models import StockLevel
from mall.audit import run_audit
from mall.points.models import LedgerEntry, PointsAccount
from tests.concurrency import race
from tests.factories import PASSWORD, give_points, make_item, make_tiers, make_user
from tests.stripe_standin import StripeStandIn

SECRET = "whsec_test_standin"


@pytest.fixture
def standin():
    with StripeStandIn() as s:
        yield s


@pytest.fixture
def card_app(pg_app, standin):
    pg_app.config.update(STRIPE_SECRET_KEY="sk_test_standin", STRIPE_PUBLISHABLE_KEY="pk_test_standin",
                         STRIPE_WEBHOOK_SECRET=SECRET, STRIPE_API_BASE=standin.url)
    return pg_app


@pytest.fixture
def shop(card_app, clock):
    make_tiers()
    member = make_user(clock.now(), login="card@example.com")
    give_points(member.id, 5000, clock.now())
    item = make_item(clock.now(), points=3000, stock=1, plans=[("points_cash", 1000, 1990, None)])
    db.session.commit()
    client = card_app.test_client()
    client.post("/login", data={"identifier": "card@example.com", "password": PASSWORD})
    return client, member, item


def _order_with_intent(client, item, standin, key="k1"):
    client.post(f"/catalog/{item.id}/buy", data={"plan_id": item.plans[1].id, "quantity": 1, "key": key})
    order = db.session.scalar(select(Order).order_by(Order.id.desc()))
    client.post(f"/orders/{order.id}/card")
    db.session.expire_all()
    return db.session.get(Order, order.id)


def _event(client, intent, event_type, *, event_id=None, secret=SECRET, timestamp=None):
    payload = json.dumps({"id": event_id or f"evt_{event_type}_{intent['id']}", "object": "event",
                          "type": event_type, "data": {"object": intent}})
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp or int(time.time()))
    return client.post("/stripe/webhook", data=payload, content_type="application/json",
                       headers={"Stripe-Signature": header})


def _audit_clean():
    return [f for f in run_audit() if f.violations] == []


def _state(order_id, item_id, member_id):
    db.session.expire_all()
    level = db.session.get(StockLevel, item_id)
    return (db.session.get(Order, order_id).status, level.reserved, level.sold,
            db.session.get(PointsAccount, member_id).balance)


def test_card_payment_creates_one_intent_for_exactly_the_cash_due(shop, standin):
    client, member, item = shop
    order = _order_with_intent(client, item, standin)
    client.post(f"/orders/{order.id}/card")  # a second tap
    assert len(standin.intents) == 1
    intent = next(iter(standin.intents.values()))
    assert (intent["amount"], intent["currency"]) == (1990, "cny")
    assert order.payment.intent_id == intent["id"] and order.status == "awaiting_payment"
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "js.stripe.com/v3" in page and intent["client_secret"] in page


def test_a_signed_success_confirms_the_order_and_a_replay_changes_nothing(shop, standin, card_app):
    client, member, item = shop
    order = _order_with_intent(client, item, standin)
    intent = standin.set_status(order.payment.intent_id, "succeeded")
    assert _event(client, intent, "payment_intent.succeeded").get_json()["outcome"] == "confirmed"
    assert _event(client, intent, "payment_intent.succeeded").get_json()["outcome"] == "duplicate"
    assert _event(client, intent, "payment_intent.payment_failed", event_id="evt_late_fail").get_json()["outcome"] == "ignored"
    assert _state(order.id, item.id, member.id) == ("ready", 0, 1, 4000)
    assert "Ready for pickup" in client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert card_app.test_cli_runner().invoke(args=["mall", "audit"]).exit_code == 0


def test_a_failed_payment_returns_stock_and_points(shop, standin):
    client, member, item = shop
    order = _order_with_intent(client, item, standin)
    intent = standin.set_status(order.payment.intent_id, "requires_payment_method")
    assert _event(client, intent, "payment_intent.payment_failed").get_json()["outcome"] == "released"
    assert _state(order.id, item.id, member.id) == ("payment_failed", 0, 0, 5000)
    refund = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "refund"))
    assert refund.reference == order.number and refund.points == 1000
    assert _audit_clean()


@pytest.mark.parametrize("secret,age", [("whsec_forged", 0), (SECRET, 400)])
def test_a_forged_or_stale_webhook_gets_400_and_has_no_effect(shop, standin, secret, age):
    client, member, item = shop
    order = _order_with_intent(client, item, standin)
    intent = standin.set_status(order.payment.intent_id, "succeeded")
    response = _event(client, intent, "payment_intent.succeeded", secret=secret, timestamp=int(time.time()) - age)
    assert response.status_code == 400
    assert _state(order.id, item.id, member.id) == ("awaiting_payment", 1, 0, 4000)


def test_processing_extends_the_hold_so_the_jobs_do_not_expire_a_slow_payment(shop, standin, card_app, clock):
    client, member, item = shop
    order = _order_with_intent(client, item, standin)
    clock.advance(minutes=8)
    intent = standin.set_status(order.payment.intent_id, "processing")
    assert _event(client, intent, "payment_intent.processing").get_json()["outcome"] == "hold extended"
    clock.advance(minutes=5)  # past the original 10-minute hold
    card_app.test_cli_runner().invoke(args=["mall", "jobs"])
    assert _state(order.id, item.id, member.id)[0] == "awaiting_payment"
    clock.advance(minutes=10)  # past the extension too, and Stripe still says processing
    card_app.test_cli_runner().invoke(args=["mall", "jobs"])
    assert _state(order.id, item.id, member.id)[0] == "awaiting_payment"


def test_a_success_after_the_hold_expired_is_confirmed_late_when_stock_remains(shop, standin, card_app, clock):
    client, member, item = shop
    order = _order_with_intent(client, item, standin)
    clock.advance(minutes=11)
    card_app.test_cli_runner().invoke(args=["mall", "jobs"])  # expires the hold, cancels the intent
    assert _state(order.id, item.id, member.id) == ("expired", 0, 0, 5000)
    intent = standin.set_status(order.payment.intent_id, "succeeded")
    assert _event(client, intent, "payment_intent.succeeded").get_json()["outcome"] == "confirmed late"
    assert _state(order.id, item.id, member.id) == ("ready", 0, 1, 4000)
    assert _audit_clean()


def test_a_success_after_the_last_unit_went_elsewhere_is_refunded_automatically(shop, standin, card_app, clock):
    client, member, item = shop
    order = _order_with_intent(client, item, standin)
    clock.advance(minutes=11)
    card_app.test_cli_runner().invoke(args=["mall", "jobs"])
    rival = make_user(clock.now(), login="rival@example.com")
    give_points(rival.id, 5000, clock.now())
    db.session.commit()
    rival_client = card_app.test_client()
    rival_client.post("/login", data={"identifier": "rival@example.com", "password": PASSWORD})
    rival_client.post(f"/catalog/{item.id}/buy", data={"plan_id": item.plans[0].id, "quantity": 1, "key": "r"})
    intent = standin.set_status(order.payment.intent_id, "succeeded")
    assert _event(client, intent, "payment_intent.succeeded").get_json()["outcome"] == "refund due"
    assert [(r["payment_intent"], r["amount"]) for r in standin.refunds] == [(intent["id"], 1990)]
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "refunded"
    assert db.session.scalar(select(Payment.status).where(Payment.order_id == order.id)) == "refunded"
    assert db.session.get(PointsAccount, member.id).balance == 5000
    assert _audit_clean()


def test_a_webhook_racing_the_expiry_job_ends_consistent(shop, standin, card_app, clock):
    client, member, item = shop
    order = _order_with_intent(client, item, standin)
    clock.advance(minutes=11)
    intent = standin.set_status(order.payment.intent_id, "succeeded")
    errors = []

    def webhook():
        _event(card_app.test_client(), intent, "payment_intent.succeeded")

    def jobs():
        result = card_app.test_cli_runner().invoke(args=["mall", "jobs"])
        if result.exception:
            errors.append(result.exception)

    race(card_app, 2, lambda i: (webhook, jobs)[i]())
    assert not errors
    status, reserved, sold, balance = _state(order.id, item.id, member.id)
    # Either way the money, the stock and the points agree: paid and ready, or refunded.
    assert (status, reserved, sold, balance) in {("ready", 0, 1, 4000), ("refunded", 0, 0, 5000)}
    assert _audit_clean()


def test_stripe_unreachable_when_paying_keeps_the_hold_and_says_so(shop, standin):
    client, member, item = shop
    client.post(f"/catalog/{item.id}/buy", data={"plan_id": item.plans[1].id, "quantity": 1, "key": "down"})
    order = db.session.scalar(select(Order))
    standin.down = True
    response = client.post(f"/orders/{order.id}/card", follow_redirects=True)
    assert "Card payment is unavailable right now" in response.get_data(as_text=True)
    assert _state(order.id, item.id, member.id) == ("awaiting_payment", 1, 0, 4000)
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


def test_hq_full_refund_of_a_card_paid_order_returns_the_cash_and_the_points(shop, standin, card_app, clock):
    client, member, item = shop
    order = _order_with_intent(client, item, standin)
    intent = standin.set_status(order.payment.intent_id, "succeeded")
    assert _event(client, intent, "payment_intent.succeeded").get_json()["outcome"] == "confirmed"
    make_user(clock.now(), login="hq-refund@example.com", role="hq")
    db.session.commit()
    hq_client = card_app.test_client()
    hq_client.post("/login", data={"identifier": "hq-refund@example.com", "password": PASSWORD})
    hq_client.post(f"/hq/orders/{order.id}/refund", data={"reason": "damaged in transit"})
    hq_client.post(f"/hq/orders/{order.id}/refund", data={"reason": "double tap"})
    assert [(r["payment_intent"], r["amount"]) for r in standin.refunds] == [(intent["id"], 1990)]
    assert _state(order.id, item.id, member.id) == ("refunded", 0, 0, 5000)
    assert db.session.scalar(select(Payment.status).where(Payment.order_id == order.id)) == "refunded"
    assert _audit_clean()
