"""POS API keys: one or more per store, shown once, kept only as a hash, revocable.

A key looks like `pm_live_<8 hex prefix>_<32 url-safe characters>`; the prefix is stored in
clear so people can tell keys apart in the console, and the whole key's SHA-256 finds it.
"""
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..errors import DomainError, NotFound
from ..extensions import db
from ..pagination import paginate
from .codes import api_key_hash
from .errors import InvalidApiKey, RevokedApiKey
from .models import ApiKey, Store

TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is a hint; don't write it on every call


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str  # shown once, never stored


def create_key(store_id: int, name: str, *, actor_id: int, now: datetime) -> NewKey:
    name = " ".join((name or "").split())
    if not name:
        raise DomainError(_l("Give the key a name, e.g. the till it is for."), field="name")
    if db.session.get(Store, store_id) is None:
        raise DomainError(_l("Choose a store."), field="store_id")
    prefix = secrets.token_hex(4)
    secret = f"pm_live_{prefix}_{secrets.token_urlsafe(24)}"
    key = ApiKey(store_id=store_id, name=name[:80], prefix=prefix, key_hash=api_key_hash(secret),
                 created_by_id=actor_id, created_at=now)
    db.session.add(key)
    db.session.flush()
    return NewKey(key, secret)


def revoke_key(key_id: int, *, actor_id: int, now: datetime) -> ApiKey:
    """Revoke at once; a second revoke changes nothing."""
    key = db.session.get(ApiKey, key_id)
    if key is None:
        raise NotFound()
    if key.revoked_at is None:
        key.revoked_at, key.revoked_by_id = now, actor_id
    return key


def authenticate(secret: str | None, now: datetime) -> ApiKey:
    """The key a POS request presents. Raises InvalidApiKey or RevokedApiKey."""
    if not secret or not secret.startswith("pm_") or len(secret) > 100:
        raise InvalidApiKey()
    key = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == api_key_hash(secret)))
    if key is None:
        raise InvalidApiKey()
    if key.revoked_at is not None:
        raise RevokedApiKey()
    if key.last_used_at is None or now - key.last_used_at >= TOUCH_EVERY:
        key.last_used_at = now
    return key


def list_keys(page: int = 1, per_page: int = 20):
    p = paginate(select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc(), ApiKey.id.desc()),
                 page, per_page)
    return p.items, p.page, p.pages


def all_stores() -> list[Store]:
    return list(db.session.scalars(select(Store).order_by(Store.name)))
