"""Redis admission for hot items: a counter of units still worth trying for.

When a flash sale draws thousands of taps for 100 units, most requests cannot win. Each
checkout first DECRBYs the item's counter; below zero it is refused at once ("sold out")
without touching PostgreSQL. The counter is advisory: the database's conditional UPDATE
decides. A crash between admission and the database can leak a unit from the counter; the
`mall jobs` resync puts it back (the counter is reset to the database's count).

Units never leak from the counter: every way out of `admit()` that does not end with the
stock taken gives the units back. A refusal (one item can't be had) and an exception in the
body give them back at once, since nothing in the database holds them; a body that finds the
stock was not its to take (a double tap whose twin made the order) calls `not_taken()`, and
its units go back after the transaction commits.

Redis down or slow: admission raises LockUnavailable, and the member gets a clear "busy,
nothing was changed" refusal; these refusals are logged, once per LOG_EVERY_SECONDS with the
count since the last line. Without REDIS_URL (the embedded demo) every request is admitted
and the database alone decides.
"""
import logging
import threading
import time
from contextlib import contextmanager

import redis
from flask import current_app

from ..errors import LockUnavailable
from ..locks import UNAVAILABLE
from ..unit_of_work import after_commit

log = logging.getLogger(__name__)

# Redis Cluster: the keys one call touches together share a hash slot. Everything about one
# item carries the tag {item:<id>} (the counter, and the submits admitted with it as their
# first item), so the sold-out gate reads both in one call on a cluster too; different
# items still spread over the cluster's masters.
KEY = "mall:{{item:{item_id}}}:stock"
# A counter lives at most this long, so any drift heals by re-reading the database.
TTL_SECONDS = 600
# An admitted submit is remembered this long, so its twin (a double tap) is let through the
# sold-out gate to find the order it made instead of being told "sold out". It is filed
# under the submit's first (lowest) item.
INTENT_KEY = "mall:{{item:{item_id}}}:admitted:{intent}"
INTENT_SECONDS = 120
LOG_EVERY_SECONDS = 60


class Admitted:
    """What `admit()` yields: `refused` is None when every item was admitted, else the id of
    the first item refused. A body that did not take the stock after all calls `not_taken()`."""

    def __init__(self, refused: int | None = None):
        self.refused = refused
        self.taken = refused is None

    def not_taken(self) -> None:
        self.taken = False


class NoAdmission:
    def sold_out(self, item_id: int) -> bool:
        return False

    def admitted_before(self, intent: str | None, item_id: int) -> bool:
        return False

    def gate(self, item_id: int, intent: str | None) -> bool:
        return False

    @contextmanager
    def admit(self, wants, available_for, *, intent: str | None = None):
        yield Admitted()

    def give_back(self, item_id: int, quantity: int) -> None:
        pass

    def resync(self, item_id: int, available: int) -> None:
        pass


# One round trip per item: take `quantity` units if the counter has them. Returns the
# units left, -1 when there aren't enough, or nil when the counter must be loaded first.
TAKE = """
local left = redis.call('GET', KEYS[1])
if not left then return nil end
left = tonumber(left) - tonumber(ARGV[1])
if left < 0 then return -1 end
redis.call('DECRBY', KEYS[1], ARGV[1])
return left
"""
# The sold-out gate in one round trip: 1 when the item's counter exists and is empty and
# this submit was not admitted before (KEYS: the counter, the submit's admission mark).
GATE = """
local left = redis.call('GET', KEYS[1])
if not left or tonumber(left) > 0 then return 0 end
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
return 1
"""


class _RefusalLog:
    """Logs refusals caused by an unavailable Redis at most once per interval, with how many
    there were, so an outage is visible without one line per tap."""

    def __init__(self, every: float = LOG_EVERY_SECONDS, clock=time.monotonic):
        self.every, self.clock, self._lock = every, clock, threading.Lock()
        self._last, self._count = None, 0

    def refused(self, exc: Exception) -> None:
        with self._lock:
            self._count += 1
            now = self.clock()
            if self._last is not None and now - self._last < self.every:
                return
            count, self._count, self._last = self._count, 0, now
        log.warning("admission refused %d checkout(s): Redis unavailable (%s)", count, exc)


class RedisAdmission:
    def __init__(self, client: redis.Redis):
        self.client = client
        self._take_script = client.register_script(TAKE)
        self._gate_script = client.register_script(GATE)
        self.refusals = _RefusalLog()

    def _take(self, item_id, quantity, available_for) -> bool:
        key = KEY.format(item_id=item_id)
        left = self._take_script(keys=[key], args=[quantity])
        if left is None:
            self.client.set(key, available_for(item_id), nx=True, ex=TTL_SECONDS)
            left = self._take_script(keys=[key], args=[quantity])
        return left is not None and left >= 0

    @contextmanager
    def admit(self, wants, available_for, *, intent: str | None = None):
        """Yield Admitted: refused None when every item is admitted, else the id of the first
        item refused. Units taken go back at once when an item is refused or the body raises,
        and after commit when the body calls `not_taken()`. `intent` names the submit (member
        and key): once admitted, its twin passes the sold-out gate (`admitted_before`)."""
        taken = []
        try:
            for want in sorted(wants, key=lambda w: w.item_id):
                if not self._take(want.item_id, want.quantity, available_for):
                    self._give_back_all(taken)
                    yield Admitted(refused=want.item_id)
                    return
                taken.append((want.item_id, want.quantity))
            if intent is not None and taken:
                self.client.set(INTENT_KEY.format(item_id=taken[0][0], intent=intent), 1, ex=INTENT_SECONDS)
        except UNAVAILABLE as exc:
            self._give_back_all(taken)
            self.refusals.refused(exc)
            raise LockUnavailable() from exc
        ticket = Admitted()
        try:
            yield ticket
        except BaseException:
            self._give_back_all(taken)  # the body's writes are undone: no stock was taken
            raise
        if not ticket.taken:  # the database holds the stock for someone else: back once committed
            for item_id, quantity in taken:
                after_commit(self.give_back, item_id, quantity)

    def _give_back_all(self, taken) -> None:
        for item_id, quantity in taken:
            self.give_back(item_id, quantity)

    def admitted_before(self, intent: str | None, item_id: int) -> bool:
        """True when this submit (whose first item is `item_id`) was admitted recently: its
        twin is being, or was, placed."""
        if intent is None:
            return False
        try:
            return bool(self.client.exists(INTENT_KEY.format(item_id=item_id, intent=intent)))
        except UNAVAILABLE:
            return False

    def gate(self, item_id: int, intent: str | None) -> bool:
        """True when a one-item submit can be answered "sold out" at once: the counter exists
        and is empty, and this submit was not admitted before. One call (one hash slot);
        any doubt says False, and the full checkout path decides."""
        keys = [KEY.format(item_id=item_id)]
        if intent is not None:
            keys.append(INTENT_KEY.format(item_id=item_id, intent=intent))
        try:
            return self._gate_script(keys=keys) == 1
        except UNAVAILABLE:
            return False

    def sold_out(self, item_id: int) -> bool:
        """True only when the counter exists and is empty; any doubt says False, and the
        full checkout path decides."""
        try:
            left = self.client.get(KEY.format(item_id=item_id))
        except UNAVAILABLE:
            return False
        return left is not None and int(left) <= 0

    def give_back(self, item_id: int, quantity: int) -> None:
        try:
            key = KEY.format(item_id=item_id)
            if self.client.exists(key):
                self.client.incrby(key, quantity)
        except UNAVAILABLE:
            pass  # the next resync restores the counter from the database

    def resync(self, item_id: int, available: int) -> None:
        try:
            self.client.set(KEY.format(item_id=item_id), available, ex=TTL_SECONDS)
        except UNAVAILABLE:
            pass


def app_admission():
    """The running app's admission counter (set up by create_app; bound to the app like db.session)."""
    return current_app.extensions["mall.admission"]
