"""The pages: the member's tasks and home, and the earning-rules console with its preview."""
import re
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from mall.engagement.models import Checkin, EarningRule
from mall.errors import LockUnavailable
from mall.extensions import db
from tests.factories import make_category, make_user

HX = {"HX-Request": "true"}


@pytest.fixture
def member(tiers, clock):
    user = make_user(clock.now(), login="tasker@example.com", name="Tasker")
    db.session.commit()
    return user


@pytest.fixture
def merch(tiers, clock):
    user = make_user(clock.now(), login="merch@example.com", role="merchandiser")
    make_category("fresh", "Fresh food")
    db.session.commit()
    return user


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_check_in_swaps_the_card_and_a_second_tap_is_refused_politely(member, client, auth):
    auth.login("tasker@example.com")
    first = client.post("/tasks/check-in", headers=HX)
    assert first.status_code == 200
    assert "Checked in: day 1 of your streak, +5 points." in _text(first)
    assert "1-day streak" in _text(first) and "<html" not in _text(first)
    second = client.post("/tasks/check-in", headers=HX)
    assert second.status_code == 409
    assert "You have already checked in today. Come back tomorrow to keep your streak going!" in _text(second)


class _BusyLocks:
    """Every lock taken elsewhere for longer than the wait: what app_locks raises then."""

    @contextmanager
    def hold(self, name, **_kwargs):
        raise LockUnavailable()
        yield


def test_a_check_in_whose_lock_is_busy_says_try_again_and_records_nothing(member, client, auth, app, monkeypatch):
    """The check-in row is added before the member's lock is taken: a busy lock must not leave
    it behind uncredited (the next tap would be "already checked in" with no points)."""
    auth.login("tasker@example.com")
    monkeypatch.setitem(app.extensions, "mall.locks", _BusyLocks())
    busy = client.post("/tasks/check-in", headers=HX)
    assert busy.status_code == 503 and "please try again" in _text(busy)
    assert db.session.scalar(select(func.count()).select_from(Checkin)) == 0
    monkeypatch.undo()
    assert client.post("/tasks/check-in", headers=HX).status_code == 200


def test_check_in_without_javascript_redirects_with_a_message(member, client, auth):
    auth.login("tasker@example.com")
    response = client.post("/tasks/check-in", follow_redirects=True)
    page = _text(response)
    assert "Checked in: day 1 of your streak, +5 points." in page and "<h1>Tasks</h1>" in page


def test_home_shows_the_tasks_with_progress_bars(member, client, auth):
    auth.login("tasker@example.com")
    client.post("/tasks/check-in")
    page = _text(client.get("/"))
    assert 'aria-label="Check-in streak"' in page and 'aria-valuetext="1-day streak"' in page
    assert 'aria-label="Profile"' in page and "0 of 3 fields" in page
    assert "See all tasks" in page


def test_profile_and_referral_forms(member, client, auth, clock):
    friend = make_user(clock.now(), login="friend@example.com")
    db.session.commit()
    auth.login("tasker@example.com")
    saved = client.post("/tasks/profile", data={"city": "Shanghai", "birthday": "1990-02-03",
                                                "favourite_category": ""}, follow_redirects=True)
    assert "Profile saved: +40 points." in _text(saved)
    refused = client.post("/tasks/referral", data={"code": member.member_code})
    assert refused.status_code == 422 and "You can&#39;t refer yourself." in _text(refused)
    ok = client.post("/tasks/referral", data={"code": friend.member_code}, follow_redirects=True)
    assert "You were invited by Test Member." in _text(ok)


def test_the_upgrade_banner_shows_once_and_can_be_dismissed(member, client, auth, clock):
    from mall.engagement.earning import earn_for_purchase
    earn_for_purchase(member.id, 500_000, minor_per_point=100, source="pos", key="big", now=clock.now())
    db.session.commit()
    auth.login("tasker@example.com")
    page = _text(client.get("/"))
    assert "Congratulations! You are now Gold" in page
    assert "Spend ¥5,000 more by" in page  # the retain target for the next period
    change_id = re.search(r"/tasks/tier-banner/(\d+)/dismiss", page).group(1)
    client.post(f"/tasks/tier-banner/{change_id}/dismiss")
    assert "Congratulations" not in _text(client.get("/"))


def test_a_merchandiser_adds_a_rule_and_previews_a_purchase(merch, client, auth):
    auth.login("merch@example.com")
    assert client.get("/console/earning-rules").status_code == 200
    created = client.post("/console/earning-rules", data={
        "kind": "time_slot", "name": "Fresh day", "name_zh": "生鲜日", "value": "200", "weekdays": ["3"],
        "category_slug": "fresh", "tier_code": "", "store_id": "0"}, follow_redirects=True)
    assert "Rule &#34;Fresh day&#34; saved (version 1)." in _text(created)
    preview = client.get("/console/earning-rules/preview", headers=HX, query_string={
        "tier_code": "gold", "spend": "200", "category_slug": "fresh", "store_id": "0",
        "at": "2026-06-03T12:00"})  # a Wednesday, shop time
    text = _text(preview)
    assert "earns 480 points" in text and "base 200 × Gold tier 1.2 × Fresh day 2 = 480" in text

    rule = db.session.query(EarningRule).one()
    edited = client.post(f"/console/earning-rules/{rule.rule_key}", data={
        "kind": "time_slot", "name": "Fresh day", "value": "300", "weekdays": ["3"],
        "category_slug": "fresh", "tier_code": "", "store_id": "0"}, follow_redirects=True)
    assert "saved (version 2)" in _text(edited)
    retired = client.post(f"/console/earning-rules/{rule.rule_key}/retire", follow_redirects=True)
    assert "retired" in _text(retired)
    assert "No rules yet" in _text(client.get("/console/earning-rules"))


def test_a_rule_for_a_segment_is_saved_listed_and_previewed_for_that_segment(merch, client, auth):
    auth.login("merch@example.com")
    created = client.post("/console/earning-rules", data={
        "kind": "campaign", "name": "Win back", "value": "300", "segment": "dormant", "store_id": "0",
        "starts_at": "2026-06-01T00:00", "ends_at": "2026-06-30T00:00"}, follow_redirects=True)
    assert "Rule &#34;Win back&#34; saved (version 1)." in _text(created)
    assert "Dormant members" in _text(created)
    rule = db.session.query(EarningRule).one()
    assert rule.segment == "dormant"
    assert re.search(r'<option[^>]*selected[^>]*value="dormant"|<option[^>]*value="dormant"[^>]*selected',
                     _text(client.get(f"/console/earning-rules/{rule.rule_key}")))
    query = {"tier_code": "silver", "spend": "100", "store_id": "0", "at": "2026-06-03T12:00"}
    dormant = _text(client.get("/console/earning-rules/preview", headers=HX, query_string={**query, "segment": "dormant"}))
    assert "base 100 × Silver tier 1 × Win back 3 = 300" in dormant
    anyone = _text(client.get("/console/earning-rules/preview", headers=HX, query_string=query))
    assert "base 100 × Silver tier 1 = 100" in anyone
    refused = client.post("/console/earning-rules", data={"kind": "cap", "name": "x", "value": "300",
                                                           "segment": "vip", "store_id": "0"})
    assert refused.status_code == 422 and 'id="segment-error"' in _text(refused)


def test_an_incomplete_rule_shows_the_error_next_to_the_field(merch, client, auth):
    auth.login("merch@example.com")
    response = client.post("/console/earning-rules", data={"kind": "time_slot", "name": "Any day", "value": "200",
                                                           "store_id": "0"})
    assert response.status_code == 422
    assert 'id="weekdays-error"' not in _text(response)  # the fieldset shows its own error
    assert "Choose at least one weekday." in _text(response)


def test_members_cannot_open_the_rules_console(member, client, auth):
    auth.login("tasker@example.com")
    assert client.get("/console/earning-rules").status_code == 403


def test_two_accounts_used_on_one_phone_cannot_refer_each_other(member, client, auth, clock):
    """The device cookie the browser keeps is what ties one household's accounts together."""
    make_user(clock.now(), login="sibling@example.com")
    db.session.commit()
    auth.login("tasker@example.com")
    client.get("/tasks")                    # the phone gets its device cookie
    client.get("/tasks")                    # and is seen with the first account
    auth.logout()
    auth.login("sibling@example.com")       # the same phone, another account
    refused = client.post("/tasks/referral", data={"code": member.member_code})
    assert refused.status_code == 422
    assert "Referrals between accounts on the same device don&#39;t count." in _text(refused)


def test_a_referral_refused_for_a_shared_phone_records_nothing(member, client, auth, clock):
    """The refusal's 422 page commits the request; the claim wrote nothing for it to commit."""
    from mall.engagement import tasks
    from mall.engagement.models import MemberDevice

    sibling = make_user(clock.now(), login="sibling@example.com")
    tasks.remember_device(member.id, "family-phone-1", clock.now())
    db.session.commit()
    auth.login("sibling@example.com")
    client.set_cookie("mall_device", "family-phone-1")
    refused = client.post("/tasks/referral", data={"code": member.member_code})
    assert refused.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(MemberDevice)
                             .where(MemberDevice.member_id == sibling.id)) == 0


@pytest.mark.parametrize("amount, error", [
    ("9" * 400, "One line per row: category, amount, SKU (optional), e.g. fresh, 86.00"),
    ("1000000.01", "amount can be at most ¥1,000,000."),
])
def test_the_preview_refuses_an_absurd_line_amount_with_the_lines_error(merch, client, auth, amount, error):
    auth.login("merch@example.com")
    query = {"tier_code": "silver", "spend": "1", "store_id": "0", "at": "2026-06-03T12:00",
             "lines": f"fresh, {amount}"}
    fragment = client.get("/console/earning-rules/preview", headers=HX, query_string=query)
    assert fragment.status_code == 200 and error in _text(fragment)
    page = client.get("/console/earning-rules/preview", query_string=query)  # without JavaScript: the console
    assert page.status_code == 200 and error in _text(page)


@pytest.mark.parametrize("kind, value, extra, largest", [
    ("campaign", "2000000000", {"starts_at": "2026-06-01T00:00", "ends_at": "2026-06-30T00:00"}, "1,000"),
    ("first_purchase", "1000001", {}, "1,000,000"),
    ("category_bonus", "1001", {"category_slug": "fresh"}, "1,000"),
])
def test_a_rule_value_past_its_kinds_maximum_is_refused_at_the_field(merch, client, auth, kind, value, extra,
                                                                      largest):
    auth.login("merch@example.com")
    refused = client.post("/console/earning-rules", data={"kind": kind, "name": "Huge", "value": value,
                                                           "store_id": "0", **extra})
    assert refused.status_code == 422
    assert f"The value can be at most {largest} for this kind of rule." in _text(refused)
    assert db.session.query(EarningRule).count() == 0


def test_the_rulebook_refuses_an_absurd_multiplier_whoever_calls_it(tiers, clock):
    from datetime import timedelta

    from mall.engagement.rulebook import InvalidRule, RuleDraft, save_rule
    with pytest.raises(InvalidRule):
        save_rule(RuleDraft(kind="campaign", name="Typo", value=2_000_000_000, starts_at=clock.now(),
                            ends_at=clock.now() + timedelta(days=1)), actor_id=None, now=clock.now())
