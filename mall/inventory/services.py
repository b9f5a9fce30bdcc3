"""Stock movements: every change to the counters goes through here, with a record."""
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ..errors import DomainError, InvalidAmount, NotFound
from ..extensions import db
from ..pagination import paginate
from ..unit_of_work import after_commit
from .admission import app_admission
from .models import StockLevel, StockMovement


def receive_stock(item_id: int, quantity: int, *, reference: str, reason: str, now: datetime,
                  actor_id: int | None = None) -> StockMovement:
    """Add received goods. One UPDATE, so concurrent receipts and reservations never clash."""
    if not isinstance(quantity, int) or quantity <= 0:
        raise InvalidAmount(field="quantity")
    level = db.session.get(StockLevel, item_id)
    if level is None:
        level = StockLevel(item_id=item_id)
        db.session.add(level)
        db.session.flush()
    db.session.execute(update(StockLevel).where(StockLevel.item_id == item_id)
                       .values(received=StockLevel.received + quantity)
                       .execution_options(synchronize_session=False))
    movement = StockMovement(item_id=item_id, kind="receive", quantity=quantity, reason=reason,
                             reference=reference, actor_id=actor_id, created_at=now)
    db.session.add(movement)
    db.session.flush()
    db.session.expire(level)
    after_commit(app_admission().give_back, item_id, quantity)
    return movement


class StockBelowCommitted(DomainError):
    field = "change"

    def __init__(self, committed: int):
        super().__init__(_l("That would leave less stock than the %(n)s units already held or sold.", n=committed))


def adjust_stock(item_id: int, change: int, *, reason: str, now: datetime, actor_id: int | None = None) -> StockMovement:
    """Correct the received count (a count, damage, loss). One conditional UPDATE: stock can
    never drop below what is already held or sold."""
    if not isinstance(change, int) or change == 0:
        raise InvalidAmount(_l("Enter a change other than zero."), field="change")
    if not (reason or "").strip():
        raise DomainError(_l("Say why the stock changes."), field="reason")
    level = db.session.get(StockLevel, item_id)
    if level is None:
        raise NotFound()
    done = db.session.execute(
        update(StockLevel).where(StockLevel.item_id == item_id,
                                 StockLevel.received + change >= StockLevel.reserved + StockLevel.sold)
        .values(received=StockLevel.received + change).execution_options(synchronize_session=False)).rowcount
    if not done:
        db.session.refresh(level)
        raise StockBelowCommitted(level.reserved + level.sold)
    movement = StockMovement(item_id=item_id, kind="adjust", quantity=change, reason=reason.strip()[:200],
                             actor_id=actor_id, created_at=now)
    db.session.add(movement)
    db.session.flush()
    db.session.expire(level)
    admission = app_admission()
    if change > 0:
        after_commit(admission.give_back, item_id, change)
    else:
        after_commit(admission.resync, item_id, level.available)
    return movement



def movements(item_id: int, *, page: int = 1, per_page: int = 30):
    p = paginate(select(StockMovement).where(StockMovement.item_id == item_id)
                 .order_by(StockMovement.created_at.desc(), StockMovement.id.desc()), page, per_page)
    return p.items, p.page, p.pages


def level_for(item_id: int) -> StockLevel | None:
    return db.session.get(StockLevel, item_id)


def set_low_stock_threshold(item_id: int, threshold: int) -> int:
    """The available count at or below which the item is flagged as low. Returns the previous
    one (catalog's management keeps it in the item's history)."""
    if not isinstance(threshold, int) or threshold < 0:
        raise InvalidAmount(_l("Use 0 or more."), field="threshold")
    level = db.session.get(StockLevel, item_id)
    if level is None:
        raise NotFound()
    before, level.low_stock_threshold = level.low_stock_threshold, threshold
    return before
