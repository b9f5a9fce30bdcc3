"""Stripe PaymentIntents through the official SDK. Never called while a lock is held.

Without STRIPE_SECRET_KEY there is no gateway, and the cash part is paid at the store
counter. Tests point `api_base` at a local stand-in of the endpoints used here.
"""
from dataclasses import dataclass

import stripe


class PaymentUnavailable(Exception):
    """Stripe could not be reached or refused; the order keeps its hold and can be retried."""


@dataclass(frozen=True)
class Intent:
    id: str
    status: str
    client_secret: str | None
    amount: int


class StripeGateway:
    def __init__(self, secret_key: str, api_base: str | None = None):
        kwargs = {"base_addresses": {"api": api_base}} if api_base else {}
        self.client = stripe.StripeClient(secret_key, max_network_retries=2, **kwargs)

    @staticmethod
    def _intent(pi) -> Intent:
        return Intent(id=pi.id, status=pi.status, client_secret=getattr(pi, "client_secret", None),
                      amount=pi.amount)

    def create_intent(self, *, amount_minor: int, currency: str, order_number: str) -> Intent:
        try:
            pi = self.client.v1.payment_intents.create(
                params={"amount": amount_minor, "currency": currency.lower(),
                        "metadata": {"order": order_number},
                        "automatic_payment_methods": {"enabled": True}},
                options={"idempotency_key": f"order-{order_number}-intent"})
        except stripe.StripeError as exc:
            raise PaymentUnavailable(str(exc)) from exc
        return self._intent(pi)

    def retrieve(self, intent_id: str) -> Intent:
        try:
            return self._intent(self.client.v1.payment_intents.retrieve(intent_id))
        except stripe.StripeError as exc:
            raise PaymentUnavailable(str(exc)) from exc

    def cancel(self, intent_id: str) -> Intent:
        try:
            return self._intent(self.client.v1.payment_intents.cancel(intent_id))
        except stripe.StripeError as exc:
            raise PaymentUnavailable(str(exc)) from exc

    def refund(self, intent_id: str, *, amount_minor: int, key: str) -> str:
        try:
            refund = self.client.v1.refunds.create(
                params={"payment_intent": intent_id, "amount": amount_minor},
                options={"idempotency_key": key})
        except stripe.StripeError as exc:
            raise PaymentUnavailable(str(exc)) from exc
        return refund.id


def gateway_for(config) -> StripeGateway | None:
    if not config.get("STRIPE_SECRET_KEY"):
        return None
    return StripeGateway(config["STRIPE_SECRET_KEY"], config.get("STRIPE_API_BASE"))
