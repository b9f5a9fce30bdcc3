"""Dynamic pages compressed on the wire (issue 17, item 9; mall/compression.py): a member
page is gzip- or brotli-encoded when the browser asks, decodes to the same page, says
`Vary: Accept-Encoding`; HTMX partials too; tiny answers and clients that don't ask get the
body as it is."""
import gzip

import brotli
import pytest

from mall.extensions import db
from tests.factories import give_points, make_item, make_user


@pytest.fixture
def member(tiers, clock, auth):
    user = make_user(clock.now(), login="squeeze@example.com")
    give_points(user.id, 3000, clock.now())
    make_item(clock.now(), name="Enamel mug", points=800)
    db.session.commit()
    auth.login("squeeze@example.com")
    return user


def test_a_member_page_is_gzip_encoded_when_asked_and_decodes_to_the_page(member, client):
    plain = client.get("/catalog")
    packed = client.get("/catalog", headers={"Accept-Encoding": "gzip"})
    assert packed.status_code == 200
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data) / 2
    assert gzip.decompress(packed.data).decode().count("Enamel mug") == plain.text.count("Enamel mug") >= 1


def test_brotli_is_preferred_when_the_browser_offers_it(member, client):
    packed = client.get("/", headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    assert packed.headers["Content-Encoding"] == "br"
    assert "<main" in brotli.decompress(packed.data).decode()


def test_a_client_that_does_not_ask_gets_the_page_as_it_is_with_vary(member, client):
    response = client.get("/catalog")
    assert "Content-Encoding" not in response.headers
    assert "Accept-Encoding" in response.headers["Vary"]
    assert "<main" in response.text


def test_an_htmx_partial_is_compressed_too(member, client):
    headers = {"HX-Request": "true", "Accept-Encoding": "gzip"}
    response = client.get("/catalog?q=mug", headers=headers)
    assert response.status_code == 200
    body = gzip.decompress(response.data).decode() if response.headers.get("Content-Encoding") == "gzip" \
        else response.text
    assert "Enamel mug" in body and "<html" not in body


def test_tiny_responses_are_not_compressed(client, app):
    response = client.get("/healthz", headers={"Accept-Encoding": "gzip, br"})
    assert len(response.data) < app.config["MALL_COMPRESS_MIN_BYTES"]
    assert "Content-Encoding" not in response.headers
