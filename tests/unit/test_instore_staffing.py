"""HQ binds store_staff accounts to stores and unbinds them: each change is audited, bad
input is refused with a message and changes nothing, and the counter follows the binding."""
import pytest
from sqlalchemy import func, select

from mall.errors import DomainError
from mall.extensions import db
from mall.accounts.models import AuditEntry
from mall.instore import staffing
from mall.instore.models import StoreStaff
from tests.factories import PASSWORD, make_user
from tests.instore_world import make_world


@pytest.fixture
def world(app, clock):
    return make_world(clock.now())


def _login(client, login):
    assert client.post("/login", data={"identifier": login, "password": PASSWORD}).status_code == 302


def _hq_id():
    from mall.accounts.models import User
    return db.session.scalar(select(User.id).where(User.email == "hq@example.com"))


def _bindings() -> set[tuple[int, int]]:
    return {tuple(r) for r in db.session.execute(select(StoreStaff.user_id, StoreStaff.store_id))}


def _audits() -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action.like("staff_%")).order_by(AuditEntry.id)))


def test_bind_and_unbind_are_audited(world, clock):
    hq = _hq_id()
    staffing.bind(world.staff_id, world.other_store_id, actor_id=hq, now=clock.now())
    db.session.commit()
    assert (world.staff_id, world.other_store_id) in _bindings()
    staffing.unbind(world.staff_id, world.store_id, actor_id=hq, now=clock.now())
    db.session.commit()
    assert _bindings() == {(world.staff_id, world.other_store_id)}
    lines = [(a.action, a.actor_id, a.subject_type, a.subject_id, a.detail["store_id"]) for a in _audits()]
    assert lines == [("staff_bound", hq, "user", world.staff_id, world.other_store_id),
                     ("staff_unbound", hq, "user", world.staff_id, world.store_id)]


@pytest.mark.parametrize("case", ["unknown_staff", "unknown_store", "member", "hq", "duplicate", "none"])
def test_bad_binds_are_refused_and_change_nothing(world, clock, case):
    hq = _hq_id()
    staff_id, store_id = world.staff_id, world.other_store_id
    if case == "unknown_staff":
        staff_id = 999999
    elif case == "unknown_store":
        store_id = 999999
    elif case == "member":
        staff_id = world.member_id
    elif case == "hq":
        staff_id = hq
    elif case == "duplicate":
        store_id = world.store_id
    else:
        staff_id = store_id = None
    before = _bindings()
    with pytest.raises(DomainError) as refused:
        staffing.bind(staff_id, store_id, actor_id=hq, now=clock.now())
    assert str(refused.value.message)
    db.session.commit()
    assert _bindings() == before and _audits() == []


def test_unbinding_what_is_not_bound_is_refused(world, clock):
    with pytest.raises(DomainError, match="does not work at"):
        staffing.unbind(world.staff_id, world.other_store_id, actor_id=_hq_id(), now=clock.now())
    with pytest.raises(DomainError):
        staffing.unbind(world.member_id, world.store_id, actor_id=_hq_id(), now=clock.now())
    db.session.commit()
    assert _bindings() == {(world.staff_id, world.store_id)} and _audits() == []


def test_hq_page_lists_binds_and_unbinds(client, world, clock):
    _login(client, "hq@example.com")
    page = client.get("/store-admin/staff")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Counter Chen" in html and "Store 1, Jing" in html
    assert "data-confirm=" in html and f"/store-admin/staff/{world.staff_id}/stores/{world.store_id}/unbind" in html
    assert 'href="/store-admin/staff"' in html  # the nav link
    done = client.post("/store-admin/staff", data={"staff_id": world.staff_id, "store_id": world.other_store_id})
    assert done.status_code == 302
    assert (world.staff_id, world.other_store_id) in _bindings()
    again = client.post("/store-admin/staff", data={"staff_id": world.staff_id, "store_id": world.other_store_id})
    assert again.status_code == 422 and "already works at" in again.get_data(as_text=True)
    wrong = client.post("/store-admin/staff", data={"staff_id": world.member_id, "store_id": world.store_id})
    assert wrong.status_code == 422 and "Only store staff accounts" in wrong.get_data(as_text=True)
    gone = client.post(f"/store-admin/staff/{world.staff_id}/stores/{world.other_store_id}/unbind")
    assert gone.status_code == 302 and (world.staff_id, world.other_store_id) not in _bindings()
    twice = client.post(f"/store-admin/staff/{world.staff_id}/stores/{world.other_store_id}/unbind")
    assert twice.status_code == 422 and "does not work at" in twice.get_data(as_text=True)
    assert [a.action for a in _audits()] == ["staff_bound", "staff_unbound"]


def test_the_list_is_paginated_by_twenty(client, world, clock):
    for n in range(25):
        make_user(clock.now(), role="store_staff", login=f"s{n:02}@example.com", name=f"Staff {n:02}")
    db.session.commit()
    rows, page, pages = staffing.list_staff(1)
    assert len(rows) == 20 and pages == 2
    assert len(staffing.list_staff(2)[0]) == 6
    _login(client, "hq@example.com")
    assert 'rel="next"' in client.get("/store-admin/staff").get_data(as_text=True)


def test_staff_pages_are_hq_only(client, world):
    _login(client, "staff@example.com")
    assert client.get("/store-admin/staff").status_code == 403


def test_a_newly_bound_staff_member_can_hand_over_and_an_unbound_one_cannot(client, app, world, clock):
    new = make_user(clock.now(), role="store_staff", login="new@example.com", name="New Nie")
    db.session.commit()
    _login(client, "new@example.com")
    refused = client.post("/counter/pickup", data={"code": world.code, "store": world.store_id},
                          headers={"HX-Request": "true"})
    assert refused.status_code == 422 and "not assigned to this store" in refused.get_data(as_text=True)
    staffing.bind(new.id, world.store_id, actor_id=_hq_id(), now=clock.now())
    db.session.commit()
    assert "Store 1, Jing" in client.get("/counter").get_data(as_text=True)
    done = client.post("/counter/pickup", data={"code": world.code, "store": world.store_id},
                       headers={"HX-Request": "true"})
    assert done.status_code == 200 and "Handed over" in done.get_data(as_text=True)


def test_an_unbound_staff_member_is_refused_at_the_counter(client, world, clock):
    staffing.unbind(world.staff_id, world.store_id, actor_id=_hq_id(), now=clock.now())
    db.session.commit()
    _login(client, "staff@example.com")
    refused = client.post("/counter/pickup", data={"code": world.code, "store": world.store_id},
                          headers={"HX-Request": "true"})
    assert refused.status_code == 422 and "not assigned to this store" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(StoreStaff)) == 0
