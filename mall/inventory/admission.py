"""Redis admission for hot items: a counter of units still worth trying for.

When a flash sale draws thousands of taps for 100 units, most requests cannot win. Each
checkout first DECRBYs the item's counter; below zero it is refused at once ("sold out")
without touching PostgreSQL. The counter is advisory: the database's conditional UPDATE
decides. A crash between admission and the database can leak a unit from the counter; the
`mall jobs` resync puts it back (the counter is reset to the database's count).

Redis down or slow: admission raises LockUnavailable, and the member gets a clear "busy,
nothing was changed" refusal. Without REDIS_URL (the embedded demo) every request is
admitted and the database alone decides.
"""
from contextlib import contextmanager

import redis
from flask import current_app

from ..errors import LockUnavailable

KEY = "mall:stock:{item_id}"
# A counter lives at most this long, so any drift heals by re-reading the database.
TTL_SECONDS = 600


class NoAdmission:
    def sold_out(self, item_id: int) -> bool:
        return False

    @contextmanager
    def admit(self, wants, available_for):
        yield True

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


class RedisAdmission:
    def __init__(self, client: redis.Redis):
        self.client = client
        self._take_script = client.register_script(TAKE)

    def _take(self, item_id, quantity, available_for) -> bool:
        key = KEY.format(item_id=item_id)
        left = self._take_script(keys=[key], args=[quantity])
        if left is None:
            self.client.set(key, available_for(item_id), nx=True, ex=TTL_SECONDS)
            left = self._take_script(keys=[key], args=[quantity])
        return left is not None and left >= 0

    @contextmanager
    def admit(self, wants, available_for):
        """Yield True when every item is admitted, else the id of the first item refused.
        Units taken are given back if the body fails."""
        taken = []
        try:
            for want in sorted(wants, key=lambda w: w.item_id):
                if not self._take(want.item_id, want.quantity, available_for):
                    for item_id, quantity in taken:
                        self.give_back(item_id, quantity)
                    yield want.item_id
                    return
                taken.append((want.item_id, want.quantity))
        except redis.RedisError as exc:
            for item_id, quantity in taken:
                self.give_back(item_id, quantity)
            raise LockUnavailable() from exc
        try:
            yield True
        except BaseException:
            for item_id, quantity in taken:
                self.give_back(item_id, quantity)
            raise

    def sold_out(self, item_id: int) -> bool:
        """True only when the counter exists and is empty; any doubt says False, and the
        full checkout path decides."""
        try:
            left = self.client.get(KEY.format(item_id=item_id))
        except redis.RedisError:
            return False
        return left is not None and int(left) <= 0

    def give_back(self, item_id: int, quantity: int) -> None:
        try:
            key = KEY.format(item_id=item_id)
            if self.client.exists(key):
                self.client.incrby(key, quantity)
        except redis.RedisError:
            pass  # the next resync restores the counter from the database

    def resync(self, item_id: int, available: int) -> None:
        try:
            self.client.set(KEY.format(item_id=item_id), available, ex=TTL_SECONDS)
        except redis.RedisError:
            pass


def app_admission():
    """The running app's admission counter (set up by create_app; bound to the app like db.session)."""
    return current_app.extensions["mall.admission"]
