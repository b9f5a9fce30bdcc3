"""Budgets' reactions to other domains' events (mall/events.py), connected by create_app."""
from datetime import datetime

from ..events import pending_cancelled, wallet_value_issued
from .models import GrantKind
from .services import charge_discretionary, give_back_uplift, record_issued


def uplift_charge_back(sender, *, earn_entry_id: int, cancelled: int, remaining_before: int, now: datetime) -> None:
    """A refund inside the return window: the purchase's uplift gives its share back."""
    give_back_uplift(earn_entry_id, cancelled=cancelled, remaining_before=remaining_before, now=now)


def wallet_value_charge(sender, *, item_id: int, account_id: int, points: int, store_id: int | None, target: str,
                        reason: str, name: str, expires_at: datetime, actor_id: int | None, now: datetime) -> None:
    """A coupon or red packet's face value (in points) charged to its budget and recorded as
    a grant backed by the wallet item (no ledger credit). Raises BudgetHeld/BudgetRefused:
    the wallet refuses the issue."""
    charge = charge_discretionary(store_id, points, reason[:40], now,
                                  programme=None if store_id is not None else ("campaign", target))
    record_issued(charge, account_id, points, kind=GrantKind.MANUAL.value, reason=reason[:40], source="wallet",
                  key=f"item:{item_id}", expires_at=expires_at, entry_id=None, now=now, actor_id=actor_id,
                  note=name)


def connect() -> None:
    """Idempotent: blinker connects a receiver once however often create_app runs."""
    pending_cancelled.connect(uplift_charge_back)
    wallet_value_issued.connect(wallet_value_charge)
