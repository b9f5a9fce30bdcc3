"""Issuing coupons and red packets into a member's wallet.

Every issue is idempotent per (source, source_ref, seq): a retried order event, claim or HQ
form returns the item issued the first time (UNIQUE + mall/idempotency.insert_once).

Budget seam (DESIGN.md #9, mall/budgets/services.py, the one budget model): the budget is
kept in points, so a wallet item's face value is charged as the points it is worth
(MALL_POINT_VALUE_MINOR_PER_100; `face_points`). Budgets sit above checkout and instore,
which use the wallet, so the wallet can't import them: it sends `wallet_value_issued`
(mall/events.py) and budgets' receiver charges `charge_discretionary` and records the grant
with `record_issued` (source "wallet", key "item:<id>", no ledger entry: the wallet item
backs the grant, which the wallet audit checks). An exhausted budget refuses the issue
(whatever its hold/refuse setting: there is no held coupon to approve later). Coupons bought with
points are not discretionary (the member paid for them): they record their face value on
the wallet item, where the liability and the cost dashboard read it, and charge no budget.
"""
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..accounts.auditlog import audit
from ..errors import DomainError, InvalidAmount, NotFound
from ..events import wallet_value_issued
from ..extensions import db
from ..idempotency import insert_once
from ..points.ledger import lock_account
from ..settings import current as current_settings
from .models import ITEM_SOURCES, CouponSpec, ItemKind, ItemSource, ItemState, WalletItem

# Short codes avoid look-alike characters (0/O, 1/I/L) so they can be read out and typed.
SHORT_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
SHORT_LENGTH = 8          # 31^8 ≈ 8.5e11 codes
GRANT_SOURCE = "wallet"   # the budget grants of wallet items: key "item:<id>"


class CouponLimitReached(DomainError):
    message = _l("You already have as many of this coupon as one member may hold.")


class CouponSpecInactive(DomainError):
    message = _l("This coupon is no longer being issued.")


class CouponWindowOver(DomainError):
    message = _l("This coupon's validity has ended; it can no longer be issued.")


class CouponBudgetExhausted(DomainError):
    message = _l("The budget for these coupons is used up this month; nothing was issued.")


@dataclass(frozen=True)
class Budget:
    """Which budget an issue is charged to: a store's, else the programme budget
    ("campaign", target)."""
    store_id: int | None = None
    target: str = "coupons"


def new_code() -> str:
    return secrets.token_urlsafe(18)  # 24 characters, 144 random bits


def new_short_code() -> str:
    return "".join(secrets.choice(SHORT_ALPHABET) for _ in range(SHORT_LENGTH))


def normalise_short_code(text: str) -> str:
    return "".join(ch for ch in (text or "").upper() if ch.isalnum())


def face_points(value_minor: int) -> int:
    """The points a face value is worth (what a budget is charged): value ÷ the value of a
    point (MALL_POINT_VALUE_MINOR_PER_100), rounded up, at least 1."""
    per_100 = current_settings().point_value_minor_per_100
    return max(1, -(-value_minor * 100 // per_100))


def _find(source: str, source_ref: str, seq: int) -> WalletItem | None:
    return db.session.scalar(select(WalletItem).where(WalletItem.source == source, WalletItem.source_ref == source_ref,
                                                      WalletItem.seq == seq))


def check_issuable(account_id: int, spec: CouponSpec, quantity: int, now: datetime) -> None:
    """Raise what issue() would refuse for `quantity` coupons of `spec` to this member now
    (inactive, validity over, the member's limit). Writes nothing: checkout asks before it
    takes points or money for coupons, with the member's account row already locked."""
    if not spec.active:
        raise CouponSpecInactive()
    if _expiry(spec, now) <= now:
        raise CouponWindowOver()
    if spec.per_member_limit is not None and _held_count(account_id, spec.id) + quantity > spec.per_member_limit:
        raise CouponLimitReached()


def _held_count(account_id: int, spec_id: int) -> int:
    """Coupons of this spec the member holds or has used (cancelled and expired don't count)."""
    return db.session.scalar(select(func.count()).select_from(WalletItem).where(
        WalletItem.account_id == account_id, WalletItem.spec_id == spec_id,
        WalletItem.state.in_((ItemState.AVAILABLE.value, ItemState.USED.value))))


def _expiry(spec: CouponSpec, now: datetime) -> datetime:
    if spec.valid_days is not None:
        return now + timedelta(days=spec.valid_days)
    return spec.valid_until


def _add(item: WalletItem, budget: Budget | None, now: datetime, actor_id: int | None) -> WalletItem:
    """Insert the item once per intent; charge its face value to `budget` in the same savepoint."""
    def write():
        db.session.add(item)
        db.session.flush()
        if budget is not None and item.face_value_minor > 0:
            _charge(item, budget, now, actor_id)
        return item
    found, _ = insert_once(write, lambda: _find(item.source, item.source_ref, item.seq))
    return found


def _charge(item: WalletItem, budget: Budget, now: datetime, actor_id: int | None) -> None:
    try:
        wallet_value_issued.send("wallet", item_id=item.id, account_id=item.account_id,
                                 points=face_points(item.face_value_minor), store_id=budget.store_id,
                                 target=budget.target, reason=f"wallet_{item.source}", name=item.name,
                                 expires_at=item.expires_at, actor_id=actor_id, now=now)
    except DomainError:  # the budget's refusal (BudgetRefused / BudgetHeld)
        raise CouponBudgetExhausted()


def issue(account_id: int, spec: CouponSpec | int, *, source: str, source_ref: str, now: datetime, seq: int = 1,
          budget: Budget | None = None, actor_id: int | None = None) -> WalletItem:
    """Issue one coupon of `spec` to the member. Idempotent per (source, source_ref, seq).

    Refuses (nothing written) when the spec is inactive, its fixed validity is over, or the
    member already holds per_member_limit of it. With `budget`, the face value is charged to
    it (CouponBudgetExhausted when it can't be); an HQ issue (source "hq") is always charged,
    by default to the spec's store's budget or else its programme budget (budget_target).
    """
    if source not in ITEM_SOURCES:
        raise ValueError(f"unknown wallet source {source!r}")
    if isinstance(spec, int):
        spec = db.session.get(CouponSpec, spec)
        if spec is None:
            raise NotFound()
    replay = _find(source, str(source_ref), seq)
    if replay is not None:
        return replay
    if spec.per_member_limit is not None:
        # The member's account row serialises their issues (as it does their checkouts, which
        # hold it already), so two at once can't both pass the limit. Writes nothing.
        lock_account(account_id, now, open_missing=False)
    check_issuable(account_id, spec, 1, now)
    expires_at = _expiry(spec, now)
    if budget is None and source == ItemSource.HQ.value:
        budget = Budget(store_id=spec.store_id, target=spec.budget_target)
    item = WalletItem(account_id=account_id, spec_id=spec.id, kind=spec.kind, name=spec.name, name_zh=spec.name_zh,
                      threshold_minor=spec.threshold_minor, value_minor=spec.value_minor, percent=spec.percent,
                      cap_minor=spec.cap_minor, category_ids=[c.id for c in spec.categories],
                      stacks_with=spec.stacks_with, store_id=spec.store_id, code=new_code(),
                      short_code=new_short_code(), state=ItemState.AVAILABLE.value, issued_at=now,
                      valid_from=spec.valid_from if spec.valid_days is None else None, expires_at=expires_at,
                      source=source, source_ref=str(source_ref)[:80], seq=seq)
    return _add(item, budget, now, actor_id)


def issue_red_packet(account_id: int, value_minor: int, *, source_ref: str, now: datetime,
                     valid_until: datetime | None = None, valid_days: int | None = None,
                     source: str = "campaign", name: str = "Red packet", name_zh: str | None = "红包",
                     store_id: int | None = None, budget: Budget | None = None, seq: int = 1,
                     actor_id: int | None = None) -> WalletItem:
    """Put a red packet of `value_minor` in the member's wallet (used like a no-threshold
    coupon; stacks with nothing by default). Validity: `valid_until`, or `valid_days` from now.
    The red-packet campaign keeps its own total; pass `budget` to also charge the one budget
    model. Idempotent per (source, source_ref, seq), e.g. source_ref "claim:<id>"."""
    if not isinstance(value_minor, int) or value_minor <= 0:
        raise InvalidAmount()
    if (valid_until is None) == (valid_days is None):
        raise ValueError("give exactly one of valid_until and valid_days")
    replay = _find(source, str(source_ref), seq)
    if replay is not None:
        return replay
    expires_at = valid_until if valid_until is not None else now + timedelta(days=valid_days)
    if expires_at <= now:
        raise CouponWindowOver()
    item = WalletItem(account_id=account_id, spec_id=None, kind=ItemKind.RED_PACKET.value, name=name, name_zh=name_zh,
                      threshold_minor=0, value_minor=value_minor, category_ids=[], stacks_with="",
                      store_id=store_id, code=new_code(), short_code=new_short_code(),
                      state=ItemState.AVAILABLE.value, issued_at=now, expires_at=expires_at, source=source,
                      source_ref=str(source_ref)[:80], seq=seq)
    return _add(item, budget, now, actor_id)


def issue_hq(account_id: int, spec_id: int, *, key: str, reason: str, actor_id: int, now: datetime) -> WalletItem:
    """HQ puts a coupon in a member's wallet: charged to the spec's budget (refused when it
    is used up), audited with HQ's reason. Idempotent per form submit (`key`)."""
    if not (reason or "").strip():
        raise DomainError(_l("Give a reason; it is kept in the audit log."), field="reason")
    spec = db.session.get(CouponSpec, spec_id)
    if spec is None:
        raise NotFound(field="spec_id")
    replay = _find(ItemSource.HQ.value, f"hq:{key}"[:80], 1)
    if replay is not None:
        return replay
    item = issue(account_id, spec, source=ItemSource.HQ.value, source_ref=f"hq:{key}"[:80], now=now, actor_id=actor_id)
    audit(actor_id, "wallet_item_issued", "wallet_item", item.id, reason, now, member_id=account_id, spec_id=spec.id,
          value_minor=item.face_value_minor)
    return item


def active_specs() -> list[CouponSpec]:
    return list(db.session.scalars(select(CouponSpec).where(CouponSpec.active.is_(True)).order_by(CouponSpec.name)))
