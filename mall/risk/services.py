"""Risk control: earning velocity, shared devices and addresses, the review queue for risky
redemptions, and account freezes. Every decision writes an audit line.

Rules (thresholds in config.py, passed in through the app's settings):
- velocity: at most N earns per member, per device and per network address in a window
  (`check_earn_velocity`, a fixed-window counter in Redis, in-process without Redis);
- cluster: accounts seen on one device or one network address, MALL_RISK_CLUSTER_SIZE or
  more of them, are flagged as a cluster (read live from member_sightings);
- review: an order is held in status `in_review` when it is a new account (younger than
  MALL_RISK_NEW_ACCOUNT_DAYS) redeeming a high-value item (MALL_RISK_HIGH_VALUE_POINTS or
  MALL_RISK_HIGH_VALUE_MINOR), when MALL_RISK_ADDRESS_ORDERS or more orders came from one
  network address within 24 hours (the mall has no delivery addresses: items are picked up
  in store), or when the member is in a flagged cluster.

HQ approves (the order proceeds: sold at once when nothing is left to pay, otherwise held
for payment again) or rejects (stock back on the shelf, points back to their lots, status
refunded; no cash was taken, since review happens before payment).
"""
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from ..accounts import services as accounts
from ..accounts.auditlog import audit
from ..accounts.models import User
from ..checkout import orders  # checkout's own moves, so ledger, stock and timeline agree
from ..checkout.models import Order, OrderStatus
from ..errors import DomainError, NotFound
from ..extensions import db
from ..idempotency import insert_once
from ..inventory import reservations
from ..locks import count_in_window
from ..pagination import paginate
from ..rawsql import execute, flush_pending, is_postgresql
from ..settings import RiskLimits
from ..settings import current as current_settings
from ..unit_of_work import note_write
from .models import MemberSighting, OrderOrigin, ReviewStatus, RiskReview

REASON_CODES = ("new_account_high_value", "many_orders_one_address", "flagged_cluster")


def limits() -> RiskLimits:
    return current_settings().risk


def customer_address(ip: str | None) -> str | None:
    """The address if the address rules should count it, else None."""
    if not ip:
        return None
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if parsed.is_global or limits().private_addresses:
        return str(parsed)[:64]
    return None


class EarningTooFast(DomainError):
    def __init__(self, dimension: str):
        self.dimension = dimension
        super().__init__(_l("Too many points were earned here in a short time. Please try again later."))


class ReviewAlreadyDecided(DomainError):
    message = _l("That order was already decided.")


# --- velocity -------------------------------------------------------------------------

def check_earn_velocity(member_id: int, *, device: str | None, ip: str | None, now: datetime) -> None:
    """Count one earn for the member, device and address; raise EarningTooFast past a limit.

    Call it before writing an earn. Counting attempts (not only successes) is deliberate:
    a farm that keeps retrying stays blocked for the window.
    """
    velocity = limits().velocity
    ip = customer_address(ip)
    for dimension, value in (("member", member_id), ("device", device), ("ip", ip)):
        if value in (None, ""):
            continue
        limit, window = velocity[dimension]
        bucket = int(now.timestamp()) // window
        if count_in_window(f"mall:risk:earn:{dimension}:{value}:{bucket}", window * 2) > limit:
            raise EarningTooFast(dimension)


# --- sightings and clusters -------------------------------------------------------------

def record_sighting(member_id: int, *, device: str | None, ip: str | None, now: datetime) -> None:
    """Remember that the member used this device and network address."""
    ip = customer_address(ip)
    for kind, value in (("device", device), ("ip", ip)):
        if not value:
            continue
        value = value[:64]
        updated = db.session.execute(
            update(MemberSighting).where(MemberSighting.member_id == member_id, MemberSighting.kind == kind,
                                         MemberSighting.value == value)
            .values(last_seen=now).execution_options(synchronize_session=False)).rowcount
        if updated:
            continue
        # Skipped if a concurrent request recorded it.
        insert_once(lambda: db.session.add(MemberSighting(member_id=member_id, kind=kind, value=value,
                                                          first_seen=now, last_seen=now)))


def seen_on_device(member_id: int, device: str | None) -> bool:
    """True when the member was seen on this device before (a login, an order)."""
    if not device:
        return False
    return db.session.scalar(select(MemberSighting.id).where(
        MemberSighting.member_id == member_id, MemberSighting.kind == "device",
        MemberSighting.value == device[:64]).limit(1)) is not None


@dataclass(frozen=True)
class Cluster:
    kind: str
    value: str
    members: list


def clusters(limit: int = 100) -> list[Cluster]:
    """Devices and addresses shared by MALL_RISK_CLUSTER_SIZE or more accounts, biggest first."""
    size = limits().cluster_size
    shared = db.session.execute(
        select(MemberSighting.kind, MemberSighting.value, func.count(MemberSighting.member_id.distinct()))
        .group_by(MemberSighting.kind, MemberSighting.value)
        .having(func.count(MemberSighting.member_id.distinct()) >= size)
        .order_by(func.count(MemberSighting.member_id.distinct()).desc(), MemberSighting.kind,
                  MemberSighting.value).limit(limit)).all()
    result = []
    for kind, value, _count in shared:
        members = db.session.scalars(
            select(User).join(MemberSighting, MemberSighting.member_id == User.id)
            .where(MemberSighting.kind == kind, MemberSighting.value == value).order_by(User.id)).all()
        result.append(Cluster(kind, value, list(members)))
    return result


def in_flagged_cluster(member_id: int) -> bool:
    size = limits().cluster_size
    mine = select(MemberSighting.kind, MemberSighting.value).where(MemberSighting.member_id == member_id).subquery()
    shared = db.session.scalar(
        select(func.count(MemberSighting.member_id.distinct()))
        .join(mine, (mine.c.kind == MemberSighting.kind) & (mine.c.value == MemberSighting.value))
        .group_by(MemberSighting.kind, MemberSighting.value)
        .order_by(func.count(MemberSighting.member_id.distinct()).desc()).limit(1))
    return bool(shared and shared >= size)


# --- screening orders ---------------------------------------------------------------------

def risk_reasons(order: Order, now: datetime, *, ip: str | None) -> list[str]:
    """The review rules that this order triggers; empty for a clean order."""
    reasons = []
    member = db.session.get(User, order.member_id)
    new = member.created_at > now - timedelta(days=limits().new_account_days)
    high = order.points_total >= limits().high_value_points or \
        order.cash_total_minor >= limits().high_value_minor
    if new and high:
        reasons.append("new_account_high_value")
    if ip:
        recent = db.session.scalar(select(func.count()).select_from(OrderOrigin).where(
            OrderOrigin.ip == ip, OrderOrigin.created_at > now - timedelta(hours=24)))
        if recent >= limits().address_orders:
            reasons.append("many_orders_one_address")
    if in_flagged_cluster(order.member_id):
        reasons.append("flagged_cluster")
    return reasons


def screen_order(order: Order, now: datetime, *, ip: str | None = None, device: str | None = None) -> list[str]:
    """Called by checkout right after an order is written (before its stock is held).
    Records where it came from and, if any rule triggers, opens a review. Returns the
    reasons; a non-empty list tells checkout to hold the order in `in_review`."""
    ip = customer_address(ip)
    if is_postgresql():
        reasons = _screen_in_one_statement(order, now, ip=ip, device=device)
    else:
        reasons = _screen_with_orm(order, now, ip=ip, device=device)
    if reasons:
        db.session.add(RiskReview(order_id=order.id, member_id=order.member_id, reasons=reasons,
                                  status=ReviewStatus.PENDING.value, created_at=now))
        audit(None, "order_held_for_review", "order", order.id, ", ".join(reasons), now, reasons=reasons)
    return reasons


def _screen_with_orm(order: Order, now: datetime, *, ip: str | None, device: str | None) -> list[str]:
    db.session.add(OrderOrigin(order_id=order.id, member_id=order.member_id, ip=(ip or None) and ip[:64],
                               device=(device or None) and device[:64], created_at=now))
    record_sighting(order.member_id, device=device, ip=ip, now=now)
    db.session.flush()
    return risk_reasons(order, now, ip=ip)


# PostgreSQL (issue 15; a prepared SQL string, see mall/rawsql.py): the order's origin, the member's sightings touched, the address's
# orders in 24 hours and the member's largest shared device/address, in one round trip. The
# reads see the snapshot before the statement's own writes: the new origin is added to the
# address count by hand, and a sighting not seen before (no row updated) is inserted after,
# with the cluster read again, since a new sighting can join a cluster.
_SCREEN_SQL = """
WITH origin AS (
  INSERT INTO order_origins (order_id, member_id, ip, device, created_at)
  VALUES (%(order_id)s, %(member_id)s, CAST(%(ip)s AS VARCHAR), CAST(%(device)s AS VARCHAR), %(now)s)),
seen AS (
  UPDATE member_sightings SET last_seen = %(now)s
  WHERE member_id = %(member_id)s AND ((kind = 'device' AND value = CAST(%(device)s AS VARCHAR))
                                       OR (kind = 'ip' AND value = CAST(%(ip)s AS VARCHAR)))
  RETURNING kind)
SELECT (SELECT count(*) FROM seen WHERE kind = 'device'),
       (SELECT count(*) FROM seen WHERE kind = 'ip'),
       (SELECT count(*) FROM order_origins WHERE ip = CAST(%(ip)s AS VARCHAR) AND created_at > %(since)s),
       (SELECT max(shared) FROM (
          SELECT count(DISTINCT s.member_id) AS shared FROM member_sightings s
          JOIN member_sightings mine ON mine.kind = s.kind AND mine.value = s.value
          WHERE mine.member_id = %(member_id)s GROUP BY s.kind, s.value) AS clusters)
"""


def _screen_in_one_statement(order: Order, now: datetime, *, ip: str | None, device: str | None) -> list[str]:
    device = (device or None) and device[:64]
    ip = (ip or None) and ip[:64]
    flush_pending()  # as the ORM's autoflush would: the order's rows go first
    seen_device, seen_ip, recent, shared = execute(_SCREEN_SQL, {
        "order_id": order.id, "member_id": order.member_id, "ip": ip, "device": device, "now": now,
        "since": now - timedelta(hours=24)}).fetchone()
    note_write()  # the origin row
    if (device and not seen_device) or (ip and not seen_ip):
        record_sighting(order.member_id, device=device, ip=ip, now=now)  # inserts the new ones
        cluster = in_flagged_cluster(order.member_id)
    else:
        cluster = bool(shared and shared >= limits().cluster_size)
    reasons = []
    member = db.session.get(User, order.member_id)
    if member.created_at > now - timedelta(days=limits().new_account_days) and (
            order.points_total >= limits().high_value_points or order.cash_total_minor >= limits().high_value_minor):
        reasons.append("new_account_high_value")
    if ip and recent + 1 >= limits().address_orders:  # + this order's own origin
        reasons.append("many_orders_one_address")
    if cluster:
        reasons.append("flagged_cluster")
    return reasons


# --- the review queue -----------------------------------------------------------------

def review_queue(status: str = ReviewStatus.PENDING.value, page: int = 1, per_page: int = 20):
    query = select(RiskReview).where(RiskReview.status == status)
    p = paginate(query.order_by(RiskReview.created_at, RiskReview.id), page, per_page)
    return p.items, p.page, p.pages, p.total


def _locked_review(review_id: int) -> RiskReview:
    review = db.session.execute(select(RiskReview).where(RiskReview.id == review_id).with_for_update()
                                .execution_options(populate_existing=True)).scalar_one_or_none()
    if review is None:
        raise NotFound()
    return review


def decide_review(review_id: int, *, approve: bool, actor_id: int, reason: str, now: datetime,
                  hold_minutes: int) -> RiskReview:
    """Approve (the order proceeds) or reject (everything given back) a held order, once."""

    if not (reason or "").strip():
        raise DomainError(_l("Give a reason; it is kept in the audit log."), field="reason")
    review = _locked_review(review_id)
    if review.status != ReviewStatus.PENDING.value:
        raise ReviewAlreadyDecided()
    order = orders.locked_order(review.order_id)
    if order.status != OrderStatus.IN_REVIEW.value:
        raise ReviewAlreadyDecided()
    note = reason.strip()[:255]
    if approve:
        orders.record(order, "review_approved", now, actor="staff", actor_id=actor_id, note=note)
        if order.cash_total_minor == 0:
            orders._confirm(order, now, actor="staff", note="approved after review")
        else:  # the cash part is still to pay: a fresh hold, as if just placed
            order.status = OrderStatus.AWAITING_PAYMENT.value
            order.reserved_until = now + timedelta(minutes=hold_minutes)
            reservations.extend(order.id, order.reserved_until, now)
    else:
        orders._release(order, OrderStatus.REFUNDED, now, kind="review_rejected", actor="staff",
                        actor_id=actor_id, note=note)
    review.status = (ReviewStatus.APPROVED if approve else ReviewStatus.REJECTED).value
    review.decided_by, review.decided_at, review.decision_reason = actor_id, now, note
    audit(actor_id, "review_approved" if approve else "review_rejected", "order", order.id, note, now,
          review_id=review.id, member_id=order.member_id)
    return review


# --- freezing -----------------------------------------------------------------------------

def freeze_member(member_id: int, reason: str, *, actor_id: int | None, now: datetime) -> User:
    """Freeze an account; the member sees the reason when they try to log in."""
    user = accounts.freeze(member_id, reason, now=now)
    audit(actor_id, "account_frozen", "user", member_id, reason, now)
    return user


def unfreeze_member(member_id: int, reason: str, *, actor_id: int | None, now: datetime) -> User:
    if not (reason or "").strip():
        raise DomainError(_l("Give a reason; it is kept in the audit log."), field="reason")
    user = accounts.unfreeze(member_id)
    audit(actor_id, "account_unfrozen", "user", member_id, reason, now)
    return user


def member_risk(member_id: int) -> dict:
    """What HQ sees on a member's risk page: sightings, clusters, reviews."""
    user = db.session.get(User, member_id)
    if user is None:
        raise NotFound()
    sightings = db.session.scalars(select(MemberSighting).where(MemberSighting.member_id == member_id)
                                   .order_by(MemberSighting.kind, MemberSighting.last_seen.desc())).all()
    reviews = db.session.scalars(select(RiskReview).where(RiskReview.member_id == member_id)
                                 .order_by(RiskReview.id.desc()).limit(20)).all()
    return {"member": user, "sightings": list(sightings), "reviews": list(reviews),
            "in_cluster": in_flagged_cluster(member_id)}
