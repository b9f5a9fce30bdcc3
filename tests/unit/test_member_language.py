"""Chinese mode (issue 17, item 6): no member page shows an English string that the
catalogue should have translated, item names are in Chinese wherever a member checks their
points, and dates read in each language's own way on a 24-hour clock."""
import re
from html import unescape

import pytest
from sqlalchemy import select

from mall.appeals.services import raise_appeal
from mall.checkout import orders
from mall.checkout.quotes import LineRequest
from mall.bookings.models import Booking
from mall.extensions import db
from mall.instore.models import Store
from mall.instore.purchases import LineInput, RefundLine, earn_for_member, refund_purchase
from mall.games import play as playing
from mall.wallet.issue import issue
from tests.factories import give_points, make_item, make_user
from tests.games_world import make_game
from tests.kinds_world import book_service, make_kinds_world
from tests.redpacket_world import make_campaign
from tests.wallet_world import make_spec

# Words that are the same in both languages: codes, units, brand-free abbreviations.
ALLOWED = {"QR", "PM", "SKU", "pts", "OK", "English", "USB", "mAh"}
ENGLISH_RUN = re.compile(r"\b[A-Za-z][a-z]{2,}(?:\s+[A-Za-z][a-z]{1,}){1,}\b")


def _visible_text(html: str) -> str:
    main = html[html.index("<main"):html.index("</main>")] if "<main" in html else html
    main = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", main, flags=re.S)
    main = re.sub(r"<[^>]+>", " ", main)
    return unescape(main)


@pytest.fixture
def chinese_member(tiers, clock, auth, client):
    member = make_user(clock.now(), login="zh@example.com", name="Wang")
    give_points(member.id, 5000, clock.now())
    item = make_item(clock.now(), name="Bamboo cutting board", points=1000, plans=[("points_cash", 500, 900, None)])
    order = orders.place_order(member.id, [LineRequest(item.id, item.plans[0].id)], key="zh", now=clock.now(),
                               hold_minutes=10, card_payments=False, points_per_unit=100)
    db.session.commit()
    auth.login("zh@example.com")
    client.post("/locale", data={"locale": "zh_Hans", "next": "/"})
    return member, item, order


@pytest.fixture
def everything(chinese_member, clock):
    """The member's wallet, a red-packet campaign, a game they played, an appeal and a booked
    service: every member page has something on it."""
    member, item, order = chinese_member
    now = clock.now()
    spec = make_spec(now, name="Spend 100 save 20")
    spec.name_zh = "满100减20"
    coupon = issue(member.id, spec, source="hq", source_ref="zh-coupon", now=now)
    campaign = make_campaign(now, name="Spring red packets")
    game = make_game(now)
    for prize, zh in zip(game.prizes, ("大奖", "小奖", "谢谢参与")):
        prize.label_zh = zh
    db.session.flush()
    playing.play(game.id, member.id, key="zh-play", now=now)
    raise_appeal(member.id, entry_id=None, order_id=order.id, reason="数量不对", key="zh-appeal", now=now, zone=None)
    world = make_kinds_world(now, member_login="zh-kinds@example.com")
    booked = book_service(world, world.slots[-1], now, member_id=member.id, key="zh-svc")
    # What people typed (store names, the visit's address) is theirs to write in Chinese.
    for store_id, zh in ((world.store_id, "测试门店"), (world.other_store_id, "另一家门店")):
        db.session.get(Store, store_id).name_zh = zh
    db.session.scalar(select(Booking).where(Booking.order_id == booked.id)).address = "家园路 1 号"
    # A till's receipt of a catalogue item, partly refunded: its receipt page names it in Chinese.
    purchase, _ = earn_for_member(world.store_id, "ZH-R1", 2 * 5_000, member.id, now=now, code_hours=24,
                                  minor_per_point=100, lines=[LineInput(5_000, sku=item.sku, name=item.name),
                                                              LineInput(5_000, sku=item.sku, name=item.name)])
    refund_purchase(world.store_id, "ZH-R1", now=now, lines=[RefundLine(2)], refund_no="ZH-RF1")
    db.session.commit()
    return dict(coupon=coupon, campaign=campaign, game=game, booked=booked, purchase=purchase)


def _member_pages(item, order, everything) -> list[str]:
    game = everything["game"]
    return ["/", "/catalog", f"/catalog/{item.id}", "/cart", "/orders", f"/orders/{order.id}", "/points/statement",
            "/tasks", "/notifications", "/notifications/settings", "/card", "/appeals", f"/appeals/new?order={order.id}",
            "/offline", "/wallet", "/wallet?tab=used", "/wallet?tab=expired", f"/wallet/{everything['coupon'].id}",
            "/red-packets", f"/red-packets/{everything['campaign'].share_token}", "/games", f"/games/{game.id}",
            f"/games/{game.id}/rules", "/games/plays", f"/orders/{everything['booked'].id}",
            f"/purchases/{everything['purchase'].id}"]


def test_no_member_page_shows_untranslated_english_in_chinese(chinese_member, everything, client):
    member, item, order = chinese_member
    found = {}
    for path in _member_pages(item, order, everything):
        response = client.get(path)
        assert response.status_code == 200, path
        text = _visible_text(response.get_data(as_text=True))
        runs = [r for r in ENGLISH_RUN.findall(text) if not set(r.split()) <= ALLOWED]
        if runs:
            found[path] = runs[:5]
    assert not found, found


def test_item_names_are_chinese_on_the_statement_and_the_order_and_times_use_24_hours(chinese_member, client, clock):
    member, item, order = chinese_member
    statement = _visible_text(client.get("/points/statement").get_data(as_text=True))
    assert item.name_zh in statement and item.name not in statement
    page = _visible_text(client.get(f"/orders/{order.id}").get_data(as_text=True))
    assert item.name_zh in page and item.name not in page
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}", page)
    assert not re.search(r"[上下]午|AM|PM\b", page.replace(order.number, ""))


def test_task_options_are_in_the_members_language(chinese_member, client):
    from tests.factories import make_category
    category = make_category("kitchen", "Kitchen and dining")
    category.name_zh = "厨房餐饮"
    db.session.commit()
    page = client.get("/tasks").get_data(as_text=True)
    assert re.search(r'<option value="kitchen"[^>]*>厨房餐饮</option>', page)
    assert "Kitchen and dining" not in page


# What a reader sees outside the text too: a button's label for screen readers, a field's
# hint, a link's tooltip, an image's description, the page's description for search.
READ_ATTRIBUTES = re.compile(r'\s(?:aria-label|title|placeholder|alt)="([^"]*)"|<meta name="description" content="([^"]*)"')
# A word of two letters or more with a lower-case one: codes (order numbers, SKUs, HMAC-SHA256)
# are upper-case, and a formula's x is a variable.
LATIN_WORD = re.compile(r"(?<![\w/.-])(?=[A-Za-z]*[a-z])[A-Za-z]{2,}(?![\w/.-])")


def _everything_read(html: str) -> str:
    """The whole page (header, nav and footer too): its text and the attributes people read."""
    body = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", html, flags=re.S)
    attributes = " ".join(a or b for a, b in READ_ATTRIBUTES.findall(body))
    return unescape(re.sub(r"<[^>]+>", " ", body) + " " + attributes)


def test_no_single_english_word_anywhere_a_chinese_member_reads(chinese_member, everything, client):
    """Stricter than the test above: one stray word ("Redeem", "Points") anywhere on the page
    or in its accessible labels fails, once everything merchandisers name has a Chinese name."""
    from mall.catalog.models import Category, Item
    member, item, order = chinese_member
    for category in db.session.scalars(select(Category)):  # the factory copies the English name
        category.name_zh = category.name_zh if not (category.name_zh or "a").isascii() else "厨房"
    for each in db.session.scalars(select(Item)):
        each.description_zh = each.description_zh or "说明"
    db.session.commit()
    found = {}
    for path in _member_pages(item, order, everything):
        response = client.get(path)
        assert response.status_code == 200, path
        words = set(LATIN_WORD.findall(_everything_read(response.get_data(as_text=True))))
        words -= ALLOWED | {member.display_name}
        if words:
            found[path] = sorted(words)[:8]
    assert not found, found
