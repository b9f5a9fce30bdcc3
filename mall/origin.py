"""Where a request comes from: its network address and a long-lived device cookie.

Web-side glue for risk control: services never read the request, so this module reads it
and views hand plain values (ip, device) to the risk services (checkout's view screens a new
order with them). `init_app` issues the device cookie.
"""
import secrets

from flask import Flask, current_app, g, has_request_context, request, url_for

DEVICE_COOKIE = "mall_device"
DEVICE_MAX_AGE = 2 * 365 * 24 * 3600


def request_origin() -> tuple[str | None, str | None]:
    """(ip, device) of the current request, or (None, None) outside one (CLI, jobs, tests)."""
    if not has_request_context():
        return None, None
    device = request.cookies.get(DEVICE_COOKIE) or g.get("new_device_id")
    if device is not None and not (8 <= len(device) <= 64 and device.replace("-", "").replace("_", "").isalnum()):
        device = None  # a forged or mangled cookie is no device at all
    return request.remote_addr, device


def public_url(endpoint: str, **values) -> str:
    """An absolute link for outside the browser's current page (email, a receipt QR code):
    always on the site's own address, MALL_BASE_URL, never on the request's Host header,
    which a client or a misconfigured proxy chooses."""
    return current_app.config["MALL_BASE_URL"].rstrip("/") + url_for(endpoint, **values)


def is_browser_request() -> bool:
    # Not files, not server-to-server, not the balancer's health probe.
    return not request.path.startswith(("/static/", "/api/")) and request.path != "/healthz"


def init_app(app: Flask) -> None:
    # The one owner of the device cookie: risk clusters and engagement's referral checks both
    # read it through request_origin().
    @app.before_request
    def _device_id():
        if DEVICE_COOKIE not in request.cookies and is_browser_request():
            g.new_device_id = secrets.token_urlsafe(24)

    @app.after_request
    def _set_device_cookie(response):
        new = g.get("new_device_id")
        if new is not None:
            # Secure also behind a TLS-terminating proxy, where the request itself is plain http.
            response.set_cookie(DEVICE_COOKIE, new, max_age=DEVICE_MAX_AGE, httponly=True, samesite="Lax",
                                secure=request.is_secure or bool(app.config.get("SESSION_COOKIE_SECURE")))
        return response
