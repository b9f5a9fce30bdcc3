"""The per-account login slow-down: it stops password guessing without locking the owner out.

Only wrong passwords count. The first `free_failures` on an account cost nothing; past
them each attempt on the account has to wait after the previous one, 1 s doubling up to
`max_delay` seconds. An attempt that arrives too early is refused (the view answers 429
with Retry-After) and is not counted, so refusals never make the wait longer. The count is
forgotten once `window` seconds pass with no attempt past the free ones.

So a guesser gets at most one try per `max_delay` seconds per account, however many
addresses they use, and the owner's correct password is accepted at most `max_delay`
seconds after the last failed attempt. The owner on a device they have logged in from
before has a bucket of their own (the view picks it), so others' failures never slow them.

An attempt is charged when it is admitted (atomically, so a burst of parallel guesses
can't all slip through one opening) and given back when the password was right.

The counters live in Redis when there is one (every worker shares them), in-process
otherwise; time comes from the caller's `now`, so tests move the clock instead of sleeping.
"""
import math
import threading
from dataclasses import dataclass
from datetime import datetime

import redis
from flask_babel import lazy_gettext as _l
from limits import parse_many

from ..errors import DomainError
from ..locks import UNAVAILABLE


class LoginSlowedDown(DomainError):
    """Refused before the password was checked: nothing counted, nothing written."""

    def __init__(self, seconds: int):
        self.seconds = seconds
        super().__init__(_l("Too many wrong passwords for this account. Wait %(seconds)s s, then try again.",
                            seconds=seconds))


@dataclass(frozen=True)
class SlowDown:
    free_failures: int
    window: int      # seconds
    max_delay: int   # seconds: the longest an owner waits after someone's failed attempt

    @classmethod
    def from_setting(cls, limit: str, max_delay: int) -> "SlowDown":
        """From MALL_RATELIMIT_LOGIN_PER_ACCOUNT ("5 per 15 minutes": the first limit given)."""
        item = parse_many(limit)[0]
        return cls(free_failures=item.amount, window=item.get_expiry(), max_delay=max(1, int(max_delay)))

    def wait(self, failures: int, last: float, now: float) -> int:
        """Seconds still to wait before the next attempt (0: go ahead)."""
        if failures < self.free_failures or now - last > self.window:
            return 0
        delay = min(2 ** min(failures - self.free_failures, 30), self.max_delay)
        return max(0, math.ceil(last + delay - now))


# Both stores keep, per key, the attempts charged (n) and when the last one was (last).
_ADMIT = """
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
local now, window, free, maxd = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if now - last > window then n = 0 end
if n >= free then
  local delay = math.min(2 ^ math.min(n - free, 30), maxd)
  if now < last + delay then return math.ceil(last + delay - now) end
end
redis.call('HSET', KEYS[1], 'n', n + 1, 'last', ARGV[1])
redis.call('EXPIRE', KEYS[1], window + maxd)
return 0
"""
_GIVE_BACK = """
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
if ARGV[1] == '1' or n <= 1 then redis.call('DEL', KEYS[1]) else redis.call('HSET', KEYS[1], 'n', n - 1) end
return 0
"""


class RedisAttempts:
    def __init__(self, client: redis.Redis):
        self._admit = client.register_script(_ADMIT)
        self._give_back = client.register_script(_GIVE_BACK)

    def admit(self, key: str, now: float, rule: SlowDown) -> int:
        try:
            return int(self._admit(keys=[key], args=[repr(now), rule.window, rule.free_failures, rule.max_delay]))
        except UNAVAILABLE:
            return 0  # like the other limits: a Redis hiccup lets the attempt through

    def give_back(self, key: str, *, forget: bool) -> None:
        try:
            self._give_back(keys=[key], args=["1" if forget else "0"])
        except UNAVAILABLE:
            pass


class LocalAttempts:
    """One process only (no REDIS_URL), like the in-process locks."""

    def __init__(self):
        self._lock, self._entries = threading.Lock(), {}

    def admit(self, key: str, now: float, rule: SlowDown) -> int:
        with self._lock:
            n, last = self._entries.get(key, (0, 0.0))
            if now - last > rule.window:
                n = 0
            wait = rule.wait(n, last, now)
            if wait == 0:
                self._entries[key] = (n + 1, now)
            return wait

    def give_back(self, key: str, *, forget: bool) -> None:
        with self._lock:
            n, last = self._entries.get(key, (0, 0.0))
            if forget or n <= 1:
                self._entries.pop(key, None)
            else:
                self._entries[key] = (n - 1, last)


class LoginThrottle:
    """`admit` before checking a password, `succeeded` after a right one; a wrong one needs
    nothing (its charge stays)."""

    def __init__(self, attempts: RedisAttempts | LocalAttempts, rule: SlowDown, prefix: str = "mall:rl:login"):
        self.attempts, self.rule, self.prefix = attempts, rule, prefix

    def key(self, login_name: str, known_device: str | None = None) -> str:
        """The account's shared bucket, or the owner's own on a device they logged in from."""
        name = (login_name or "").strip().lower()[:254]
        return f"{self.prefix}:{name}" + (f":device:{known_device}" if known_device else "")

    def admit(self, key: str, now: datetime) -> int:
        """0 when the attempt may go ahead (and is charged), else the seconds to wait."""
        return self.attempts.admit(key, now.timestamp(), self.rule)

    def succeeded(self, key: str, *, own_device: bool) -> None:
        # The owner's own device starts afresh; the shared bucket only gets this attempt
        # back, or a guesser would earn new free tries each time the owner logs in.
        self.attempts.give_back(key, forget=own_device)
