"""Appeals on PostgreSQL: HQ answers an appeal (its row is locked while the subject is joined
in by an outer join, which PostgreSQL refuses to lock on the nullable side) and reviews the
receipt the member saw; a submit key longer than the column and a double-tapped submit are
refused or replayed, never a 500."""
import io

from PIL import Image
from sqlalchemy import func, select

from mall.appeals.models import Appeal
from mall.appeals.services import raise_appeal, resolve, review
from mall.accounts.models import User
from mall.extensions import db
from mall.instore.purchases import LineInput, earn_for_member
from mall.points.models import LedgerEntry
from tests.concurrency import race
from tests.factories import PASSWORD, give_points
from tests.instore_world import make_lined_world


def test_hq_reviews_the_receipt_and_answers_an_appeal_on_postgresql(pg_app, clock):
    world = make_lined_world(clock.now())
    purchase, _ = earn_for_member(world.store_id, "PG-1", 28_600, world.member_id, now=clock.now(), code_hours=24,
                                  minor_per_point=100, lines=[LineInput(8_600, category="fresh", name="Bok choy"),
                                                              LineInput(20_000, category="kitchen", name="Wok")])
    appeal = raise_appeal(world.member_id, entry_id=purchase.earn_entry_id, order_id=None, reason="Too few",
                          key="pg", now=clock.now(), zone=None)
    db.session.commit()

    shown = review(appeal.id, now=clock.now())
    assert shown.receipt.receipt_no == "PG-1" and [l.name for l in shown.receipt.lines] == ["Bok choy", "Wok"]

    client = pg_app.test_client()
    client.post("/login", data={"identifier": "hq@example.com", "password": PASSWORD})
    page = client.get(f"/hq/appeals/{appeal.id}")
    assert page.status_code == 200 and "Bok choy" in page.get_data(as_text=True)

    hq_id = db.session.scalar(select(User.id).where(User.email == "hq@example.com"))
    resolve(appeal.id, points=None, reply="The points are right.", actor_id=hq_id, now=clock.now())
    db.session.commit()
    assert db.session.scalar(select(Appeal.status).where(Appeal.id == appeal.id)) == "answered"


def _member_client(app, world, clock):
    member = db.session.get(User, world.member_id)
    give_points(member.id, 100, clock.now())
    db.session.commit()
    client = app.test_client()
    assert client.post("/login", data={"identifier": member.email, "password": PASSWORD}).status_code == 302
    entry_id = db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.member_id == member.id))
    return client, entry_id


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "PNG")
    return out.getvalue()


def test_a_submit_key_longer_than_the_column_is_refused_and_writes_nothing_on_postgresql(pg_app, clock):
    client, entry_id = _member_client(pg_app, make_lined_world(clock.now()), clock)
    sent = client.post(f"/appeals/new?entry={entry_id}", data={"entry": str(entry_id), "reason": "Too few",
                                                               "key": "k" * 50})
    assert sent.status_code == 422 and "reload it and try again" in sent.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 0


def test_a_double_tapped_appeal_with_a_photo_is_one_appeal_and_one_photo_on_postgresql(pg_app, clock, tmp_path):
    pg_app.config["MALL_UPLOAD_DIR"] = str(tmp_path)
    world = make_lined_world(clock.now())
    clients, entry_id = zip(*(_member_client(pg_app, world, clock) for _ in range(2)))
    entry_id = entry_id[0]

    def submit(i):
        return clients[i].post(f"/appeals/new?entry={entry_id}", content_type="multipart/form-data", data={
            "entry": str(entry_id), "reason": "Too few", "key": "tap",
            "photo": (io.BytesIO(_png()), "receipt.png")}).status_code

    statuses = race(pg_app, 2, submit, returns=True)
    assert all(isinstance(s, int) and 200 <= s < 400 for s in statuses), statuses
    db.session.rollback()
    appeals = db.session.scalars(select(Appeal)).all()
    assert len(appeals) == 1
    stored = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.webp"))
    assert stored == sorted([appeals[0].photo, appeals[0].photo.replace(".webp", "-thumb.webp")])


def test_two_tabs_questioning_one_line_at_once_make_one_open_appeal_on_postgresql(pg_app, clock):
    """Different keys (two tabs): the member's account row serialises them, so the second finds
    the first's open appeal about the same line instead of writing another."""
    world = make_lined_world(clock.now())
    clients, entry_id = zip(*(_member_client(pg_app, world, clock) for _ in range(2)))
    entry_id = entry_id[0]

    def submit(i):
        return clients[i].post(f"/appeals/new?entry={entry_id}", data={
            "entry": str(entry_id), "reason": "Too few", "key": f"tab-{i}"}).status_code

    for _ in range(3):
        statuses = race(pg_app, 2, submit, returns=True)
        assert all(isinstance(s, int) and 200 <= s < 400 for s in statuses), statuses
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 1
