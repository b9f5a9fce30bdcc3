"""Notifications: expiry reminders 30 and 7 days before points expire, sent by `mall jobs`
through a real local SMTP server (aiosmtpd); idempotent sending, opt-out, the inbox."""
import email
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller

from mall.extensions import db
from mall.notifications import services
from mall.notifications.models import Notification
from mall.points.statement import balance
from tests.factories import give_points, make_item, make_user


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server(app):
    """A real SMTP server on 127.0.0.1; the app's mail backend points at it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    app.config.update(MALL_MAIL_BACKEND="smtp", MALL_SMTP_HOST="127.0.0.1", MALL_SMTP_PORT=controller.port)
    yield inbox
    controller.stop()


def _jobs(app):
    result = app.test_cli_runner().invoke(args=["mall", "jobs"])
    assert result.exit_code == 0, result.output
    return result.output


def _body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_expiry_reminders_go_out_30_and_7_days_before_once_each(app, tiers, clock, smtp_server):
    member = make_user(clock.now(), login="lin@example.com", name="Lin")
    make_item(clock.now(), name="Tea towel", points=500)
    make_item(clock.now(), name="Rice cooker", points=50_000)
    give_points(member.id, 980, clock.now(), days_valid=40)
    db.session.commit()

    clock.advance(days=5)  # 35 days left: too early
    _jobs(app)
    assert smtp_server.messages == []

    clock.advance(days=6)  # 29 days left
    first = _jobs(app)
    assert "expiry reminders: 1 new" in first and "emails: 1 sent" in first
    second = _jobs(app)  # the job runs again a minute later: nothing twice
    assert "expiry reminders: 0 new" in second and "emails: 0 sent" in second
    (message,) = smtp_server.messages
    assert message["To"] == "lin@example.com"
    assert "980 points expire on Jul 11, 2026" in message["Subject"]
    body = _body(message)
    assert "In 29 days, 980 of your points expire." in body
    assert "Tea towel: 500 points" in body and "Rice cooker" not in body  # only what they can afford now

    clock.advance(days=23)  # 6 days left: the 7-day reminder
    _jobs(app)
    _jobs(app)
    assert len(smtp_server.messages) == 2
    assert "In 6 days, 980 of your points expire." in _body(smtp_server.messages[1])

    clock.advance(days=7)  # expired: the job sweeps them, and no more reminders
    _jobs(app)
    assert balance(member.id, clock.now()).points == 0
    assert len(smtp_server.messages) == 2
    inbox = services.inbox(member.id)
    assert [n.params["stage"] for n in inbox.notifications] == [7, 30]
    assert inbox.unread == 2


def test_a_member_who_opted_out_gets_neither_email_nor_inbox_message(app, tiers, clock, smtp_server):
    member = make_user(clock.now())
    services.set_preferences(member.id, {"tier_change", "presale", "order_status"}, clock.now())
    give_points(member.id, 100, clock.now(), days_valid=20)
    db.session.commit()
    _jobs(app)
    assert smtp_server.messages == []
    assert services.inbox(member.id).total == 0
    # Opting back in later never replays the old reminder.
    services.set_preferences(member.id, {"expiry_reminder"}, clock.now())
    db.session.commit()
    _jobs(app)
    assert smtp_server.messages == []


def test_a_member_with_a_mobile_login_gets_the_inbox_message_only(app, tiers, clock, smtp_server):
    member = make_user(clock.now(), login="13900000009")
    give_points(member.id, 100, clock.now(), days_valid=20)
    db.session.commit()
    _jobs(app)
    assert smtp_server.messages == []
    assert services.unread_count(member.id) == 1


def test_an_smtp_outage_keeps_the_email_for_the_next_run(app, tiers, clock, smtp_server):
    member = make_user(clock.now())
    services.notify(member.id, "order_status", "order:1:ready", {"order": "A1", "status": "ready"}, clock.now())
    db.session.commit()
    port = app.config["MALL_SMTP_PORT"]
    app.config["MALL_SMTP_PORT"] = _free_port()  # nobody listens there
    assert "emails: 0 sent" in _jobs(app)
    assert db.session.query(Notification).one().email_state == "pending"
    app.config["MALL_SMTP_PORT"] = port
    assert "emails: 1 sent" in _jobs(app)
    assert len(smtp_server.messages) == 1


def test_notify_is_idempotent_on_its_key(tiers, clock):
    member = make_user(clock.now())
    first = services.notify(member.id, "presale", "presale:7:arrived", {"order": "P7", "event": "arrived"}, clock.now())
    again = services.notify(member.id, "presale", "presale:7:arrived", {"order": "P7", "event": "arrived"}, clock.now())
    assert first.id == again.id
    assert db.session.query(Notification).count() == 1


def test_reading_a_message_marks_it_read_and_others_cannot_open_it(tiers, clock):
    from mall.errors import NotFound
    member, other = make_user(clock.now()), make_user(clock.now())
    note = services.notify(member.id, "order_status", "o:1", {"order": "A1", "status": "ready"}, clock.now())
    assert services.unread_count(member.id) == 1
    with pytest.raises(NotFound):
        services.read_notification(other.id, note.id, clock.now())
    services.read_notification(member.id, note.id, clock.now())
    assert services.unread_count(member.id) == 0


def test_the_inbox_badge_and_opt_out_pages(app, tiers, clock, client, auth):
    member = make_user(clock.now(), login="reader@example.com")
    services.notify(member.id, "order_status", "o:1", {"order": "A1", "status": "ready"}, clock.now())
    db.session.commit()
    auth.login("reader@example.com")
    badge = client.get("/notifications/badge", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert '<span class="badge" aria-hidden="true">1</span>' in badge and "1 unread" in badge
    page = client.get("/notifications").get_data(as_text=True)
    assert "Order A1: ready for pickup" in page
    response = client.post("/notifications/settings", data={"kinds": ["expiry_reminder", "tier_change"]})
    assert response.status_code == 302
    assert services.opted_out_kinds(member.id) == {"presale", "order_status", "appeal"}


def test_an_order_ready_for_pickup_tells_the_member_once(tiers, clock):
    from mall.checkout import orders as order_service
    from mall.checkout.orders import record
    from mall.checkout.quotes import LineRequest
    member = make_user(clock.now())
    give_points(member.id, 5000, clock.now())
    item = make_item(clock.now(), points=1200, stock=5)
    order = order_service.place_order(member.id, [LineRequest(item.id, item.plans[0].id, 1, 0)], key="k",
                                      now=clock.now(), hold_minutes=10, points_per_unit=100, card_payments=False)
    record(order, "ready_for_pickup", clock.now())  # the same event recorded again
    db.session.commit()
    (note,) = services.inbox(member.id).notifications
    assert (note.kind, note.params["status"], note.params["order"]) == ("order_status", "ready", order.number)


@pytest.fixture
def compiled_translations():
    """The .mo files are built from the .po files (they are not in git)."""
    from pathlib import Path

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    root = Path(__file__).resolve().parents[2] / "mall" / "translations"
    for po in root.glob("*/LC_MESSAGES/messages.po"):
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parent.parent.name)
        with po.with_suffix(".mo").open("wb") as f:
            write_mo(f, catalog)


def test_emails_are_written_in_the_members_language(app, tiers, clock, smtp_server, compiled_translations):
    from mall.accounts.services import find_by_identifier
    english = make_user(clock.now(), login="en@example.com")
    chinese = make_user(clock.now(), login="zh@example.com")
    find_by_identifier("zh@example.com").locale = "zh_Hans"
    for member in (english, chinese):
        give_points(member.id, 300, clock.now(), days_valid=20)
    db.session.commit()
    _jobs(app)
    by_to = {m["To"]: m for m in smtp_server.messages}
    assert "300 points expire on" in by_to["en@example.com"]["Subject"]
    assert "300 积分将于" in by_to["zh@example.com"]["Subject"]
    assert "20 天后，您有 300 积分将过期。" in _body(by_to["zh@example.com"])


def test_one_reminder_run_covers_every_member_page_by_page(tiers, clock):
    from mall.notifications.reminders import send_expiry_reminders
    members = [make_user(clock.now()) for _ in range(3)]
    for member in members:
        give_points(member.id, 50, clock.now(), days_valid=10)
        give_points(member.id, 70, clock.now(), days_valid=12)
    assert send_expiry_reminders(clock.now(), batch=1) == 6  # two expiry days each
    assert send_expiry_reminders(clock.now(), batch=1) == 0
    assert {n.params["points"] for n in services.inbox(members[2].id).notifications} == {50, 70}


def test_one_tier_review_covers_every_member_page_by_page(tiers, clock):
    from mall.engagement.earning import earn_for_purchase
    from mall.points.tiers import review_tiers, tier_status
    members = [make_user(clock.now()) for _ in range(3)]
    for n, member in enumerate(members):
        earn_for_purchase(member.id, 500_000, minor_per_point=100, source="pos", key=f"b{n}", now=clock.now())
    clock.advance(days=370)
    assert review_tiers(clock.now(), batch=1)["downgrade"] == 3
    assert {tier_status(m.id, clock.now()).tier.code for m in members} == {"silver"}


def test_an_order_status_email_and_message_name_the_items_in_the_members_language(tiers, clock, auth, client,
                                                                                   compiled_translations):
    from mall.accounts.services import find_by_identifier
    from mall.checkout import orders as order_service
    from mall.checkout.orders import record
    from mall.checkout.quotes import LineRequest
    from mall.notifications.delivery import render_email
    member = make_user(clock.now(), login="zh-order@example.com")
    give_points(member.id, 5000, clock.now())
    item = make_item(clock.now(), name="Bamboo cutting board", points=1200, stock=5)
    order = order_service.place_order(member.id, [LineRequest(item.id, item.plans[0].id, 2, 0)], key="k",
                                      now=clock.now(), hold_minutes=10, points_per_unit=100, card_payments=False)
    record(order, "ready_for_pickup", clock.now())
    find_by_identifier("zh-order@example.com").locale = "zh_Hans"
    db.session.commit()
    (note,) = services.inbox(member.id).notifications
    _, body = render_email(note, find_by_identifier("zh-order@example.com"))
    assert f"{item.name_zh} × 2" in body and "Bamboo cutting board" not in body
    auth.login("zh-order@example.com")
    client.post("/locale", data={"locale": "zh_Hans", "next": "/"})
    page = client.get(f"/notifications/{note.id}").get_data(as_text=True)
    assert item.name_zh in page and "Bamboo cutting board" not in page
    client.post("/locale", data={"locale": "en", "next": "/"})
    assert "Bamboo cutting board × 2" in client.get(f"/notifications/{note.id}").get_data(as_text=True)
