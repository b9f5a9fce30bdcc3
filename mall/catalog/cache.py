"""A few seconds' cache of what checkout reads about an item (issue 15): the item with its
plans, category, tier prices, lowest tier and coupon. Loading that graph is an ORM query
with four joined loads, about a millisecond of CPU per checkout; taking it from here costs
one Redis GET and a `Session.merge(load=False)` (about 0.1 ms), and no SQL.

Freshness. Every worker and node keeps its own copies, each tagged with the catalogue
version (a random token in Redis, VERSION_KEY) it read before loading from the database.
Any transaction that writes a watched table (the ORM flush, or an ORM UPDATE/DELETE/INSERT
statement) sets a new token once it has committed, and the next read everywhere sees a new
version and loads again. Tokens are random, not a counter, so a Redis that restarts empty
can never hand out a version some worker still holds old copies under. A copy is also
dropped after MALL_CATALOG_CACHE_SECONDS, the bound on staleness should the new token
itself be lost (Redis accepting reads but refusing that one write). Without Redis, or when
the GET fails, or while the key is missing, nothing is served from a copy.

What it can't do: charge a price the catalogue no longer had when the checkout started.
A copy is only served while its version is still the current one, and the version moves
right after the edit commits; a checkout that reads in that gap (microseconds) sees what a
database read issued just before the commit would have seen, which the checkout never
excluded (it doesn't lock the plan row). Stock and balance are not in the copy: they are
checked in the order's transaction as always.

Copies never meet changes of the request's own: nothing is taken from or put in the cache
when the session has written a watched table in this transaction, when the item is already
in the session (the session's copy is the answer, as before), or when any object of the
copy is (merge(load=False) would overwrite it).
"""
import logging
import pickle
import secrets
import threading
import time
from dataclasses import dataclass
from itertools import chain

from flask import current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from ..extensions import db
from ..locks import UNAVAILABLE

log = logging.getLogger(__name__)

VERSION_KEY = "mall:catalog:version"
EXTENSION = "mall.catalog_cache"
_WROTE = "mall.catalog_cache.wrote"  # session.info: this transaction wrote a watched table

# Tables whose rows a cached graph holds; a write to any of them invalidates every copy.
# Domains that add a relationship to the cached graph register their table (watch()).
_watched: set[str] = {"items", "price_plans", "item_tier_prices", "categories", "tiers"}


def watch(*models) -> None:
    _watched.update(model.__table__.name for model in models)


@dataclass(frozen=True)
class _Entry:
    version: bytes
    expires: float       # time.monotonic()
    graph: object        # a detached copy: never attached to a session, only merged from
    keys: tuple          # identity keys of every object in the graph


class CatalogCache:
    def __init__(self, client, seconds: float):
        self.client = client if seconds > 0 else None
        self.seconds = seconds
        self._entries: dict[tuple, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, model, ident: int, load):
        """The `model` row `ident` with what `load()` loads along with it, in the current
        session: merged from a current copy, else `load()` (which puts it in the session),
        kept for the next request."""
        session = db.session()
        key = inspect(model).identity_key_from_primary_key((ident,))
        if self.client is None or key in session.identity_map or session.info.get(_WROTE):
            return load()
        try:
            version = self.client.get(VERSION_KEY)
            if version is None:  # a fresh (or restarted) Redis: start a version, read this once
                self.client.set(VERSION_KEY, _token(), nx=True)
                return load()
        except UNAVAILABLE:
            return load()
        entry = self._entries.get(key)
        if (entry is not None and entry.version == version and entry.expires > time.monotonic()
                and not any(k in session.identity_map for k in entry.keys)):
            return session.merge(entry.graph, load=False)
        before = set(session.identity_map.keys())
        obj = load()
        if obj is not None and not session.info.get(_WROTE):
            keys = tuple(inspect(o).key for o in _graph(obj))
            if not any(k in before for k in keys):  # all of it read now, after the version
                copy = pickle.loads(pickle.dumps(obj))  # detached, loaded attributes only
                with self._lock:
                    self._entries[key] = _Entry(version, time.monotonic() + self.seconds, copy, keys)
        return obj

    def changed(self) -> None:
        """A watched table changed (committed): drop this process's copies, and move the
        version so that every other process drops theirs."""
        with self._lock:
            self._entries.clear()
        if self.client is None:
            return
        try:
            self.client.set(VERSION_KEY, _token())
        except UNAVAILABLE as exc:  # other processes' copies live out MALL_CATALOG_CACHE_SECONDS
            log.warning("catalogue cache version not moved: %s", exc)


def _token() -> str:
    return secrets.token_hex(8)


def _graph(obj):
    state = inspect(obj)
    return chain([obj], (related for related, *_ in state.mapper.cascade_iterator("merge", state)))


def catalog_cache() -> CatalogCache | None:
    return current_app.extensions.get(EXTENSION) if has_app_context() else None


def init_app(app, client) -> None:
    app.extensions[EXTENSION] = CatalogCache(client, float(app.config.get("MALL_CATALOG_CACHE_SECONDS", 5)))


# --- which transactions wrote a watched table -----------------------------------------------

def _is_watched(obj) -> bool:
    table = getattr(obj, "__table__", None)
    return table is not None and table.name in _watched


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context) -> None:
    if not session.info.get(_WROTE) and any(map(_is_watched, chain(session.new, session.dirty, session.deleted))):
        session.info[_WROTE] = True


def _executed(state) -> None:
    # ORM statements that write without a flush (update(Item)...): first in the chain, as
    # the unit of work's hook answers DML itself and the hooks after it are not called.
    if (state.is_update or state.is_delete or state.is_insert) and any(
            m.local_table.name in _watched for m in state.all_mappers):
        state.session.info[_WROTE] = True


event.listen(Session, "do_orm_execute", _executed, insert=True)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(_WROTE, None):
        cache = catalog_cache()
        if cache is not None:
            cache.changed()


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction) -> None:
    # After after_commit: a rolled-back or closed transaction forgets its writes. (A rolled-back
    # savepoint keeps the flag: one needless move of the version at worst.)
    if transaction.parent is None:
        session.info.pop(_WROTE, None)
