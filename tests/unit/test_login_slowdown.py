"""Login limits that stop attackers, not owners (issue 11, item 4): wrong passwords slow the
account down (1 s doubling up to MALL_RATELIMIT_LOGIN_MAX_DELAY), they never lock it, and a
refused attempt (429) never counts as a failure. (On real Redis: tests/integration/
test_security_redis.py.)"""
import pytest

from mall.accounts.throttle import LocalAttempts, LoginThrottle, SlowDown
from mall.extensions import db
from tests.factories import PASSWORD, make_user

BOUND = 30  # MALL_RATELIMIT_LOGIN_MAX_DELAY's default, the README's documented bound


def _attempt(client, login, password="wrong-password-1", ip="198.51.100.1"):
    return client.post("/login", data={"identifier": login, "password": password}, environ_base={"REMOTE_ADDR": ip})


def _attack(app, clock, login, failures):
    """A guesser from many addresses, waiting out each slow-down as asked (Retry-After)."""
    attacker = app.test_client()
    made, waits = 0, []
    for n in range(failures * 3):
        response = _attempt(attacker, login, ip=f"203.0.113.{n % 250}")
        if response.status_code == 429:
            waits.append(int(response.headers["Retry-After"]))
            clock.advance(seconds=waits[-1])
            continue
        assert response.status_code == 422
        made += 1
        if made == failures:
            return waits
    raise AssertionError("the attacker never got its guesses in")


def test_after_an_attackers_guesses_the_owner_logs_in_within_the_documented_bound(app, tiers, clock):
    make_user(clock.now(), login="owner@example.com")
    db.session.commit()
    waits = _attack(app, clock, "owner@example.com", failures=25)
    assert max(waits) == BOUND  # the guesser was slowed to one try per BOUND seconds ...

    owner = app.test_client()  # ... and the owner, on a phone the account never used:
    first = _attempt(owner, "owner@example.com", PASSWORD, ip="192.0.2.7")
    assert first.status_code == 429  # right after the guesser's last try
    wait = int(first.headers["Retry-After"])
    assert 1 <= wait <= BOUND and "Wait %d s, then try again" % wait in first.get_data(as_text=True)
    clock.advance(seconds=wait)
    second = _attempt(owner, "owner@example.com", PASSWORD, ip="192.0.2.7")
    assert second.status_code == 302 and second.headers["Location"] == "/"


def test_an_owner_on_a_device_they_used_before_is_not_slowed_by_anyones_guesses(app, tiers, clock):
    make_user(clock.now(), login="regular@example.com")
    db.session.commit()
    phone = app.test_client()
    assert _attempt(phone, "regular@example.com", PASSWORD).status_code == 302
    phone.post("/logout")
    _attack(app, clock, "regular@example.com", failures=12)
    assert _attempt(app.test_client(), "regular@example.com", PASSWORD).status_code == 429  # a new device waits
    assert _attempt(phone, "regular@example.com", PASSWORD).status_code == 302             # the owner's doesn't


def test_the_wait_doubles_up_to_the_bound_and_never_becomes_a_lock(app, tiers, clock):
    make_user(clock.now(), login="target@example.com")
    db.session.commit()
    assert _attack(app, clock, "target@example.com", failures=13) == [1, 2, 4, 8, 16, 30, 30, 30]


def test_attempts_refused_by_the_slow_down_do_not_count_as_failures(app, client, tiers, clock):
    make_user(clock.now(), login="patient@example.com")
    db.session.commit()
    assert [_attempt(client, "patient@example.com").status_code for _ in range(5)] == [422] * 5
    refused = [_attempt(client, "patient@example.com") for _ in range(10)]  # an impatient retrier
    assert {r.status_code for r in refused} == {429} and {r.headers["Retry-After"] for r in refused} == {"1"}
    clock.advance(seconds=1)  # the wait did not grow with the refusals
    assert _attempt(client, "patient@example.com", PASSWORD).status_code == 302


def test_attempts_refused_by_the_per_address_limit_do_not_count_against_the_account(app, client, tiers, clock):
    app.config["MALL_RATELIMIT_LOGIN"] = "2 per minute"  # a busy address: the mall's wifi
    make_user(clock.now(), login="busy@example.com")
    db.session.commit()
    wifi = [_attempt(client, "busy@example.com", ip="198.51.100.50").status_code for _ in range(12)]
    assert wifi == [422] * 2 + [429] * 10
    # Three more failures elsewhere are still among the five free ones: the ten 429s counted nothing.
    others = [_attempt(client, "busy@example.com", ip=f"198.51.100.{n}").status_code for n in range(60, 64)]
    assert others == [422, 422, 422, 429]


def test_a_refused_attempt_writes_nothing(app, client, tiers, clock):
    """MALL_STRICT_REFUSALS would fail any 422 or 429 answered after a write."""
    make_user(clock.now(), login="quiet@example.com")
    db.session.commit()
    statuses = [_attempt(client, "quiet@example.com").status_code for _ in range(7)]
    assert statuses == [422] * 5 + [429] * 2


def test_the_same_mobile_number_typed_two_ways_shares_one_slow_down(app, client, tiers, clock):
    make_user(clock.now(), login="13800001234")
    db.session.commit()
    typed = ["13800001234", "138 0000 1234", "138-0000-1234", "13800001234", "(138) 00001234", "138 0000 1234"]
    assert [_attempt(client, t).status_code for t in typed] == [422] * 5 + [429]


@pytest.mark.parametrize("setting, expected", [
    ("5 per 15 minutes", SlowDown(5, 900, 30)),
    ("1000 per minute", SlowDown(1000, 60, 30)),
    ("3 per hour; 10 per day", SlowDown(3, 3600, 30)),  # the first limit given
])
def test_the_per_account_setting_reads_as_free_failures_per_window(setting, expected):
    assert SlowDown.from_setting(setting, 30) == expected


def test_a_burst_of_parallel_guesses_gets_no_more_than_the_free_tries():
    """Admission is charged before the password is checked, so guesses sent all at once
    can't all slip through before the first failure is recorded."""
    from datetime import datetime, timezone
    throttle = LoginThrottle(LocalAttempts(), SlowDown(5, 900, 30))
    key, at = throttle.key("burst@example.com"), datetime(2026, 6, 1, tzinfo=timezone.utc)
    admitted = [throttle.admit(key, at) == 0 for _ in range(50)]
    assert admitted.count(True) == 5
    throttle.succeeded(key, own_device=False)  # a right password gives its own charge back, no more
    assert [throttle.admit(key, at) == 0 for _ in range(3)] == [True, False, False]
