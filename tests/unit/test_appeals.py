"""Appeals (issue 17, item 7): a member questions a statement line or an order, with a reason
and an optional photo; HQ's queue shows what is overdue (one working day) and resolves by an
adjustment (a ledger entry naming the appeal, through the appeals budget) or a reply; the
member is told and sees the status."""
import io
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image
from sqlalchemy import func, select

from mall.appeals.models import Appeal
from mall.accounts.models import User
from mall.appeals.services import due_after
from mall.extensions import db
from mall.notifications.models import Notification
from mall.points.models import LedgerEntry
from tests.factories import give_points, make_user


@pytest.fixture
def people(tiers, clock):
    member = make_user(clock.now(), login="appealer@example.com")
    give_points(member.id, 500, clock.now())
    make_user(clock.now(), login="hq-appeals@example.com", role="hq")
    db.session.commit()
    return member


def _entry(member):
    return db.session.scalar(select(LedgerEntry).where(LedgerEntry.member_id == member.id))


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "PNG")
    return out.getvalue()


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_one_working_day_skips_the_weekend_in_the_shop_zone():
    friday_noon_shanghai = datetime(2026, 12, 4, 4, 0, tzinfo=timezone.utc)
    assert due_after(friday_noon_shanghai, "Asia/Shanghai") == friday_noon_shanghai + timedelta(days=3)
    tuesday = datetime(2026, 12, 1, 4, 0, tzinfo=timezone.utc)
    assert due_after(tuesday, "Asia/Shanghai") == tuesday + timedelta(days=1)


def test_every_statement_line_offers_question_this_and_the_appeal_goes_to_hq_and_back(people, auth, client, clock, app):
    member = people
    auth.logout()
    auth.login("appealer@example.com")
    entry = _entry(member)
    statement = client.get("/points/statement").get_data(as_text=True)
    assert f'href="/appeals/new?entry={entry.id}"' in statement and "Question this" in statement

    sent = client.post(f"/appeals/new?entry={entry.id}", data={
        "entry": str(entry.id), "reason": "I bought 3 items, not 1", "key": "a1",
        "photo": (io.BytesIO(_png()), "receipt.png")}, content_type="multipart/form-data")
    assert sent.status_code == 302
    appeal = db.session.scalar(select(Appeal))
    assert appeal.status == "open" and appeal.photo.startswith("appeals/") and appeal.entry_id == entry.id
    mine = client.get("/appeals").get_data(as_text=True)
    assert "Waiting for an answer" in mine and "I bought 3 items" in mine
    assert client.get(f"/appeals/{appeal.id}/photo").status_code == 200

    clock.advance(days=3)  # past the one-working-day target
    auth.logout()
    auth.login("hq-appeals@example.com")
    queue = client.get("/hq/appeals").get_data(as_text=True)
    assert "Overdue" in queue and "1 appeal is overdue." in queue and "I bought 3 items" in queue
    assert client.get(f"/appeals/{appeal.id}/photo").status_code == 200
    done = client.post(f"/hq/appeals/{appeal.id}", data={"points": "200", "reply": "Sorry, corrected."})
    assert done.status_code == 302

    db.session.expire_all()
    appeal = db.session.get(Appeal, appeal.id)
    credit = db.session.get(LedgerEntry, appeal.adjustment_entry_id)
    assert appeal.status == "adjusted" and credit.points == 200 and credit.reason == "appeal"
    assert credit.detail["appeal_id"] == appeal.id
    note = db.session.scalar(select(Notification).where(Notification.kind == "appeal"))
    assert note.member_id == member.id and note.params["status"] == "adjusted"

    auth.logout()
    auth.login("appealer@example.com")
    assert "Resolved: points added" in client.get("/appeals").get_data(as_text=True)
    assert f"appeal no. {appeal.id}" in client.get("/points/statement").get_data(as_text=True)
    assert "has an answer" in client.get("/notifications").get_data(as_text=True)


def test_a_reply_only_answer_and_a_second_resolve_is_refused_with_nothing_written(people, auth, client, clock):
    member = people
    auth.logout()
    auth.login("appealer@example.com")
    entry = _entry(member)
    client.post(f"/appeals/new?entry={entry.id}", data={"entry": str(entry.id), "reason": "Why?", "key": "a2"})
    appeal = db.session.scalar(select(Appeal))
    auth.logout()
    auth.login("hq-appeals@example.com")
    assert client.post(f"/hq/appeals/{appeal.id}", data={"reply": "It is right: see the receipt."}).status_code == 302
    entries = _count(LedgerEntry)
    again = client.post(f"/hq/appeals/{appeal.id}", data={"points": "50", "reply": "More"})
    assert again.status_code == 422 and "already resolved" in again.get_data(as_text=True)
    assert _count(LedgerEntry) == entries and db.session.get(Appeal, appeal.id).status == "answered"


def test_a_file_that_is_not_an_image_and_another_members_line_are_refused(people, auth, client, clock):
    member = people
    other = make_user(clock.now(), login="other@example.com")
    give_points(other.id, 100, clock.now())
    db.session.commit()
    auth.logout()
    auth.login("appealer@example.com")
    entry = _entry(member)
    bad = client.post(f"/appeals/new?entry={entry.id}", data={
        "entry": str(entry.id), "reason": "x", "key": "a3", "photo": (io.BytesIO(b"%PDF-1.4 nope"), "r.png")},
        content_type="multipart/form-data")
    assert bad.status_code == 422 and "not an image" in bad.get_data(as_text=True)
    theirs = _entry(other)
    assert client.get(f"/appeals/new?entry={theirs.id}").status_code == 404
    assert client.post(f"/appeals/new?entry={theirs.id}", data={"entry": str(theirs.id), "reason": "x", "key": "a4"}).status_code == 404
    assert _count(Appeal) == 0


def test_an_order_offers_question_this_order(people, auth, client, clock):
    from mall.checkout import orders
    from mall.checkout.quotes import LineRequest
    from tests.factories import make_item
    item = make_item(clock.now(), points=100)
    order = orders.place_order(people.id, [LineRequest(item.id, item.plans[0].id)], key="o", now=clock.now(),
                               hold_minutes=10, card_payments=False, points_per_unit=100)
    db.session.commit()
    auth.logout()
    auth.login("appealer@example.com")
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert f'href="/appeals/new?order={order.id}"' in page
    form = client.get(f"/appeals/new?order={order.id}").get_data(as_text=True)
    assert order.number in form and 'enctype="multipart/form-data"' in form


def _raise_as_member(client, auth, member, key, **extra):
    auth.logout()
    auth.login("appealer@example.com")
    entry = _entry(member)
    sent = client.post(f"/appeals/new?entry={entry.id}", data={"entry": str(entry.id), "reason": "Too few", "key": key,
                                                               **extra}, content_type="multipart/form-data")
    assert sent.status_code == 302
    return db.session.scalar(select(Appeal).where(Appeal.idempotency_key == key))


@pytest.mark.parametrize("when_used_up", ["hold", "refuse"])
def test_points_beyond_what_the_appeals_budget_has_left_are_refused_not_held_and_nothing_is_written(
        people, auth, client, clock, when_used_up):
    from mall.budgets.models import DiscretionaryGrant
    from mall.budgets.services import set_programme_budget
    from mall.points.models import PointsAccount
    member = people
    hq = db.session.scalar(select(User).where(User.email == "hq-appeals@example.com"))
    set_programme_budget("campaign", "appeals", "Appeals", 100, when_used_up, actor_id=hq.id, now=clock.now())
    db.session.commit()
    appeal = _raise_as_member(client, auth, member, "b1")
    auth.logout()
    auth.login("hq-appeals@example.com")

    refused = client.post(f"/hq/appeals/{appeal.id}?back=review", data={"points": "150", "reply": "Sorry."})
    assert refused.status_code == 422
    assert "The appeals budget is used up this month" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).status == "open"
    assert db.session.get(PointsAccount, member.id).balance == 500
    assert _count(DiscretionaryGrant) == 0 and _count(Notification) == 0

    done = client.post(f"/hq/appeals/{appeal.id}", data={"points": "80", "reply": "Sorry, corrected."})
    assert done.status_code == 302
    db.session.expire_all()
    appeal = db.session.get(Appeal, appeal.id)
    credit = db.session.get(LedgerEntry, appeal.adjustment_entry_id)
    assert appeal.status == "adjusted" and credit.points == 80 and credit.detail["appeal_id"] == appeal.id
    assert db.session.get(PointsAccount, member.id).balance == 580


def test_an_appeal_photo_is_never_public_and_only_its_member_and_hq_see_it(people, auth, client, clock):
    member = people
    make_user(clock.now(), login="nosy@example.com")
    db.session.commit()
    appeal = _raise_as_member(client, auth, member, "p1", photo=(io.BytesIO(_png()), "receipt.png"))
    own = client.get(f"/appeals/{appeal.id}/photo")
    assert own.status_code == 200 and own.headers["Cache-Control"] == "no-store"
    assert client.get(f"/catalog/media/{appeal.photo}").status_code == 404

    auth.logout()
    assert client.get(f"/catalog/media/{appeal.photo}").status_code == 404
    assert client.get(f"/catalog/media/{appeal.photo.replace('.webp', '-thumb.webp')}").status_code == 404
    assert client.get(f"/catalog/media/./{appeal.photo}").status_code == 404
    auth.login("nosy@example.com")
    assert client.get(f"/appeals/{appeal.id}/photo").status_code == 404
    auth.logout()
    auth.login("hq-appeals@example.com")
    seen = client.get(f"/appeals/{appeal.id}/photo")
    assert seen.status_code == 200 and seen.headers["Cache-Control"] == "no-store"
    assert f"/appeals/{appeal.id}/photo" in client.get(f"/hq/appeals/{appeal.id}").get_data(as_text=True)
