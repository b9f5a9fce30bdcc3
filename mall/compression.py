"""Dynamic responses compressed on the way out (issue 17, item 9: a cold member page within
40 KB on the wire). Static files are WhiteNoise's (mall/static_files.py, compressed once at
start-up); this covers what views render: pages, HTMX partials, JSON, the service worker and
the manifest.

Flask-Compress does the work: brotli for browsers that offer it, gzip otherwise, nothing for
a client that asks for neither; `Vary: Accept-Encoding` on every answer so a shared cache
never hands a compressed body to a client that can't read it; responses under
MALL_COMPRESS_MIN_BYTES go as they are (a kilobyte fits one packet either way, and the
compressor's own framing would eat the saving). Its hook is registered before every other
after-request hook, so it runs last and compresses the final body (the unit of work's commit,
the cache and security headers have all had their say). A streamed response, should a view
ever send one, is compressed chunk by chunk (Flask-Compress's COMPRESS_STREAMS).

BREACH (a secret and attacker-chosen text compressed together, sizes observed on the wire)
is limited here by the session cookie's SameSite=Lax (a cross-site page can't make the
browser fetch a member's page in the background with their session) and the rate limits."""
from flask import Flask
from flask_compress import Compress

# Offered in this order of preference; zstd and deflate add nothing every browser lacks.
ALGORITHMS = ["br", "gzip"]
MIMETYPES = ["text/html", "text/css", "text/plain", "text/csv", "text/javascript", "application/javascript",
             "application/json", "application/manifest+json", "application/problem+json", "image/svg+xml"]


def init_app(app: Flask) -> None:
    app.config.setdefault("COMPRESS_ALGORITHM", ALGORITHMS)
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ALGORITHMS)
    app.config.setdefault("COMPRESS_MIMETYPES", MIMETYPES)
    app.config.setdefault("COMPRESS_MIN_SIZE", app.config["MALL_COMPRESS_MIN_BYTES"])
    app.config.setdefault("COMPRESS_BR_LEVEL", 5)  # pages are rendered per request: fast, nearly as small as 11
    Compress(app)
