"""Fast repeat visits (issue 17, item 9): pages link versioned static URLs, which are served
compressed and cached for years as immutable; meta descriptions on public pages."""
import re

STATIC = re.compile(r'(?:href|src)="(/static/[^"]+)"')


def _static_urls(html: str) -> list[str]:
    return STATIC.findall(html)


def test_pages_link_our_css_and_js_by_content_hash_and_vendored_files_by_version(client, tiers):
    urls = _static_urls(client.get("/catalog").text)
    assert any(re.fullmatch(r"/static/css/mall\.[0-9a-f]{12}\.css", u) for u in urls), urls
    assert any(re.fullmatch(r"/static/js/mall\.[0-9a-f]{12}\.js", u) for u in urls), urls
    assert "/static/vendor/htmx-2.0.11.min.js" in urls
    assert "/static/css/mall.css" not in urls


def test_a_versioned_file_is_gzipped_and_immutable_for_at_least_a_year(client, tiers):
    css = next(u for u in _static_urls(client.get("/catalog").text) if "/css/" in u)
    response = client.get(css, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    cache = response.headers["Cache-Control"]
    assert "immutable" in cache
    assert int(re.search(r"max-age=(\d+)", cache).group(1)) >= 365 * 24 * 3600
    assert response.headers["Content-Type"].startswith("text/css")

    plain = client.get(css)  # a client that doesn't ask for gzip gets the file as it is
    assert "Content-Encoding" not in plain.headers
    assert int(plain.headers["Content-Length"]) > int(response.headers["Content-Length"])


def test_vendored_files_are_immutable_and_unversioned_names_are_not(client):
    vendored = client.get("/static/vendor/htmx-2.0.11.min.js", headers={"Accept-Encoding": "gzip"})
    assert vendored.headers["Content-Encoding"] == "gzip"
    assert "immutable" in vendored.headers["Cache-Control"]
    plain = client.get("/static/css/mall.css")
    assert plain.status_code == 200
    assert "immutable" not in plain.headers["Cache-Control"]


def test_public_pages_describe_themselves(client, tiers):
    for path in ("/catalog", "/accounts/login"):
        html = client.get(path).text
        assert re.search(r'<meta name="description" content="[^"]{20,}">', html), path


def test_a_browser_that_offers_brotli_gets_the_smaller_brotli_copy(client, tiers):
    import brotli
    css = next(u for u in _static_urls(client.get("/catalog").text) if "/css/" in u)
    packed = client.get(css, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.headers["Content-Encoding"] == "br"
    gzipped = client.get(css, headers={"Accept-Encoding": "gzip"})
    assert len(packed.data) < len(gzipped.data)
    assert brotli.decompress(packed.data) == client.get(css).data
