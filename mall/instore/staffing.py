"""Which stores each store_staff account works at (HQ). The counter acts only for the stores
an account is bound to, so every bind and unbind writes a line in HQ's audit log."""
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..accounts.models import Role, User
from ..errors import DomainError
from ..extensions import db
from ..accounts.auditlog import audit
from ..pagination import paginate
from .models import Store, StoreStaff


def _staff(user_id: int | None) -> User:
    user = db.session.get(User, user_id) if user_id is not None else None
    if user is None:
        raise DomainError(_l("There is no such staff account."), field="staff_id")
    if user.role != Role.STORE_STAFF.value:
        raise DomainError(_l("Only store staff accounts can be bound to a store."), field="staff_id")
    return user


def _store(store_id: int | None) -> Store:
    store = db.session.get(Store, store_id) if store_id is not None else None
    if store is None:
        raise DomainError(_l("There is no such store."), field="store_id")
    return store


def _binding(user_id: int, store_id: int) -> StoreStaff | None:
    return db.session.scalar(select(StoreStaff).where(StoreStaff.user_id == user_id, StoreStaff.store_id == store_id))


def bind(staff_id: int | None, store_id: int | None, *, actor_id: int, now: datetime) -> StoreStaff:
    """Let a store_staff account act for a store. Refuses an unknown or non-staff account,
    an unknown store and a binding that already exists; nothing is written then."""
    staff, store = _staff(staff_id), _store(store_id)
    if _binding(staff.id, store.id) is not None:
        raise DomainError(_l("%(name)s already works at %(store)s.", name=staff.display_name, store=store.name),
                          field="store_id")
    row = StoreStaff(user_id=staff.id, store_id=store.id)
    try:
        # A savepoint: a concurrent identical bind hits the UNIQUE constraint, not our caller's transaction.
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        raise DomainError(_l("%(name)s already works at %(store)s.", name=staff.display_name, store=store.name),
                          field="store_id") from None
    audit(actor_id, "staff_bound", "user", staff.id, "", now, store_id=store.id)
    return row


def unbind(staff_id: int | None, store_id: int | None, *, actor_id: int, now: datetime) -> None:
    """Stop a staff account acting for a store (its counter no longer offers that store)."""
    staff, store = _staff(staff_id), _store(store_id)
    row = _binding(staff.id, store.id)
    if row is None:
        raise DomainError(_l("%(name)s does not work at %(store)s.", name=staff.display_name, store=store.name),
                          field="store_id")
    db.session.delete(row)
    db.session.flush()
    audit(actor_id, "staff_unbound", "user", staff.id, "", now, store_id=store.id)


def list_staff(page: int = 1, per_page: int = 20):
    """Store staff accounts, by name, each with the stores it is bound to."""
    query = select(User).where(User.role == Role.STORE_STAFF.value)
    p = paginate(query.order_by(User.display_name, User.id), page, per_page)
    users, page, pages = p.items, p.page, p.pages
    stores: dict[int, list[Store]] = {u.id: [] for u in users}
    if users:
        for user_id, store in db.session.execute(
                select(StoreStaff.user_id, Store).join(Store, Store.id == StoreStaff.store_id)
                .where(StoreStaff.user_id.in_(stores)).order_by(Store.name)):
            stores[user_id].append(store)
    return [(u, stores[u.id]) for u in users], page, pages


def all_staff() -> list[User]:
    return list(db.session.scalars(select(User).where(User.role == Role.STORE_STAFF.value)
                                   .order_by(User.display_name, User.id)))
