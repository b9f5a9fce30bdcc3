"""Stock movements: every change to the counters goes through here, with a record."""
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ..errors import DomainError, InvalidAmount, NotFound
from ..extensions import db
from ..pagination import paginate
from ..unit_of_work import after_commit
from ..web import MAX_INT
from .admission import app_admission
from .models import StockLevel, StockMovement
from .reservations import available


class StockOverLimit(DomainError):
    """The received count would pass what its INTEGER column holds (PostgreSQL would refuse
    the UPDATE with a 5xx): refused before anything is written."""

    def __init__(self, *, field: str):
        super().__init__(_l("That would take the stock past %(n)s units: enter a smaller number.", n=MAX_INT),
                         field=field)


def receive_stock(item_id: int, quantity: int, *, reference: str, reason: str, now: datetime,
                  actor_id: int | None = None) -> StockMovement:
    """Add received goods. One conditional UPDATE, so concurrent receipts and reservations
    never clash, and the count never passes MAX_INT (StockOverLimit, nothing written)."""
    if not isinstance(quantity, int) or quantity <= 0:
        raise InvalidAmount(field="quantity")
    if quantity > MAX_INT:
        raise StockOverLimit(field="quantity")
    level = db.session.get(StockLevel, item_id)
    if level is None:
        level = StockLevel(item_id=item_id)
        db.session.add(level)
        db.session.flush()
    # `received <= MAX_INT - quantity`, not `received + quantity <= MAX_INT`: the sum would
    # overflow the INTEGER arithmetic it guards.
    done = db.session.execute(update(StockLevel).where(StockLevel.item_id == item_id,
                                                       StockLevel.received <= MAX_INT - quantity)
                              .values(received=StockLevel.received + quantity)
                              .execution_options(synchronize_session=False)).rowcount
    if not done:  # only an existing level can be this full: nothing was written
        raise StockOverLimit(field="quantity")
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
    never drop below what is already held or sold (StockBelowCommitted) nor pass MAX_INT
    (StockOverLimit); a refusal writes nothing."""
    if not isinstance(change, int) or change == 0:
        raise InvalidAmount(_l("Enter a change other than zero."), field="change")
    if not (reason or "").strip():
        raise DomainError(_l("Say why the stock changes."), field="reason")
    level = db.session.get(StockLevel, item_id)
    if level is None:
        raise NotFound()
    if change > MAX_INT:
        raise StockOverLimit(field="change")
    # Each condition is written so that its own arithmetic can't overflow INTEGER: a rise is
    # checked against the room left, a fall against what is held or sold.
    fits = (StockLevel.received <= MAX_INT - change if change > 0
            else StockLevel.received + change >= StockLevel.reserved + StockLevel.sold)
    done = db.session.execute(
        update(StockLevel).where(StockLevel.item_id == item_id, fits)
        .values(received=StockLevel.received + change).execution_options(synchronize_session=False)).rowcount
    if not done:
        if change > 0:
            raise StockOverLimit(field="change")
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
        # Read once committed, as presale's resync does: a release committing between this
        # flush and the commit would otherwise be overwritten by a count taken before it.
        after_commit(lambda: admission.resync(item_id, available(item_id)))
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
