"""The member card (issue 17, item 3): one tap from any member page, the member code as a
QR and a Code 128 barcode, with balance and tier; the order page's counter moment (item 2)."""
import re

from mall.extensions import db
from mall.storefront.card import barcode_svg
from tests.factories import give_points, make_user


def test_every_member_page_links_to_the_card_which_shows_qr_barcode_balance_and_tier(tiers, auth, client, clock):
    member = make_user(clock.now(), login="card@example.com")
    give_points(member.id, 2345, clock.now())
    db.session.commit()
    auth.login("card@example.com")
    for path in ("/", "/catalog", "/points/statement", "/orders", "/tasks"):
        assert 'href="/card"' in client.get(path).get_data(as_text=True), path
    page = client.get("/card").get_data(as_text=True)
    assert member.member_code in page and "2,345" in page and "Silver" in page
    assert page.count("<svg") >= 2 and 'class="barcode"' in page and 'class="qr"' in page


def test_the_barcode_is_inline_svg_without_inline_styles_and_scales_by_its_viewbox():
    svg = barcode_svg("M2345ABCD")
    assert svg.startswith("<svg") and "viewBox=" in svg and "style=" not in svg and "<?xml" not in svg
    # Code 128: start, 9 symbols, check, stop; bars are black on a white quiet zone
    assert svg.count('fill="black"') > 20 and 'fill="white"' in svg


def test_staff_pages_do_not_get_a_member_card(client):
    assert 'href="/card"' not in client.get("/login").get_data(as_text=True)


def test_the_pickup_panel_comes_before_the_status_and_its_poll_answer_carries_the_timeline():
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[2] / "templates"
    order = (root / "checkout" / "order.html").read_text()
    assert order.index("instore/_pickup.html") < order.index("checkout/_status.html")
    assert "checkout/_timeline.html" in (root / "instore" / "_pickup_poll.html").read_text()
    assert re.search(r'hx-select-oob="#order-status,#order-timeline"', (root / "instore" / "_pickup.html").read_text())


def test_the_site_is_installable_and_names_what_to_keep_offline(tiers, auth, client, clock):
    page = client.get("/login").get_data(as_text=True)
    assert 'rel="manifest"' in page and 'data-sw="/sw.js"' in page
    manifest = client.get("/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json" and manifest.json["display"] == "standalone"
    worker = client.get("/sw.js")
    text = worker.get_data(as_text=True)
    assert worker.mimetype == "text/javascript" and "/offline/keep" in text and "/static/css/mall." in text
    assert "No connection" in client.get("/offline").get_data(as_text=True)
    make_user(clock.now(), login="keeper@example.com")
    db.session.commit()
    auth.login("keeper@example.com")
    assert client.get("/offline/keep").json == {"keep": ["/card"]}


def test_the_manifest_offers_png_icons_of_192_and_512_px_under_versioned_immutable_names(client):
    from PIL import Image
    import io
    icons = client.get("/manifest.webmanifest").json["icons"]
    pngs = {i["sizes"]: i["src"] for i in icons if i["type"] == "image/png" and i["purpose"] == "any"}
    assert set(pngs) == {"192x192", "512x512"}
    assert any(i["purpose"] == "maskable" for i in icons)
    for sizes, src in pngs.items():
        assert re.fullmatch(r"/static/img/icon-\d+\.[0-9a-f]{12}\.png", src), src
        response = client.get(src)
        assert response.status_code == 200 and "immutable" in response.headers["Cache-Control"]
        assert "x".join(map(str, Image.open(io.BytesIO(response.data)).size)) == sizes
