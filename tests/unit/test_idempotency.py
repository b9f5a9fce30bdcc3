"""insert_once: the second write of the same key returns the first row and writes nothing,
and the caller's transaction carries on."""
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

import mall.models  # noqa: F401  (every mapper, so collecting this file first configures none half-way)
from mall.checkout.models import WebhookEvent
from mall.extensions import db
from mall.idempotency import insert_once


def _receive(event_id, now, event_type="payment_intent.succeeded"):
    def write():
        event = WebhookEvent(event_id=event_id, type=event_type, received_at=now)
        db.session.add(event)
        return event
    return write


def _find(event_id):
    return lambda: db.session.scalar(select(WebhookEvent).where(WebhookEvent.event_id == event_id))


def _count():
    return db.session.scalar(select(func.count()).select_from(WebhookEvent))


def test_first_write_is_created(app, clock):
    event, created = insert_once(_receive("evt_1", clock.now()), _find("evt_1"))
    assert created and event.id is not None
    assert _count() == 1


def test_second_write_of_the_same_key_returns_the_first_row_and_writes_nothing(app, clock):
    first, _ = insert_once(_receive("evt_1", clock.now()), _find("evt_1"))
    db.session.commit()
    first_id = first.id
    db.session.expunge_all()  # the second writer is another worker: it has not seen the first row
    again, created = insert_once(_receive("evt_1", clock.now(), "payment_intent.canceled"), _find("evt_1"))
    assert not created
    assert (again.id, again.type) == (first_id, "payment_intent.succeeded")
    db.session.commit()
    assert _count() == 1


def test_the_callers_transaction_survives_a_refused_write(app, clock):
    insert_once(_receive("evt_1", clock.now()))
    db.session.add(WebhookEvent(event_id="evt_2", type="t", received_at=clock.now()))
    _, created = insert_once(_receive("evt_1", clock.now()))  # no finder: just skipped
    assert not created
    db.session.commit()
    assert _count() == 2


def test_a_refusal_that_is_not_a_replay_is_raised(app, clock):
    insert_once(_receive("evt_1", clock.now()))
    with pytest.raises(IntegrityError):
        insert_once(_receive("evt_1", clock.now()), lambda: None)
    assert _count() == 1
