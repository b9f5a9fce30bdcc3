"""Security hardening shared by every page: response headers with a Content-Security-Policy
that allows no inline script (nor inline style), and rate limits on the doors that
credential stuffers and point farmers knock on (login, registration, password reset, daily
check-in).

CSP: scripts and styles only from our own origin (vendored htmx, Chart.js, jsQR, our js),
plus Stripe's origins for the card form, which Stripe requires to load from js.stripe.com.
Templates therefore carry no <script> blocks, no on*="" handlers, no style="" attributes
and no hx-on; htmx's own inline indicator <style> is switched off in base.html's htmx-config
(includeIndicatorStyles: false; mall.css carries the indicator rules). tests/unit/
test_security_headers.py scans every template for anything the policy would break.

Rate limits live in Redis when REDIS_URL is set (Flask-Limiter, storage set in create_app;
the login slow-down on the same client), so every worker shares them; the limits are
settings (MALL_RATELIMIT_*, defaults in config.py, each settable from the environment).
"""
from flask import Flask, current_app

from .extensions import limiter

STRIPE = "https://js.stripe.com"
CSP = "; ".join([
    "default-src 'self'",
    f"script-src 'self' {STRIPE}",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self' https://api.stripe.com",
    f"frame-src {STRIPE} https://hooks.stripe.com",
    "media-src 'self' blob:",  # the counter's camera preview for QR codes
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

# The limits are settings with their defaults in config.py, each settable from the
# environment (the README's configuration table). Login is limited per network address
# here (every attempt; lenient, as a mall's wifi puts many members behind one address),
# and per account by the slow-down in mall/accounts/throttle.py (failures only, never a lock).
def _limit(name: str):
    return lambda: current_app.config[name]


# Decorators for views (POST only: showing the form is never limited).
login_limit = limiter.limit(_limit("MALL_RATELIMIT_LOGIN"), methods=["POST"])
_register_attempts = limiter.limit(_limit("MALL_RATELIMIT_REGISTER"), methods=["POST"])
_accounts_created = limiter.limit(_limit("MALL_RATELIMIT_ACCOUNTS_CREATED"), methods=["POST"],
                                  deduct_when=lambda response: response.status_code == 302,
                                  scope="register-created")


def register_limit(view):
    return _register_attempts(_accounts_created(view))
checkin_limit = limiter.limit(_limit("MALL_RATELIMIT_CHECKIN"), methods=["POST"])
reset_limit = limiter.limit(_limit("MALL_RATELIMIT_RESET"), methods=["POST"])


def security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=(), payment=(self)")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config.get("SESSION_COOKIE_SECURE"):  # served over HTTPS: stay there
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def init_security(app: Flask) -> None:
    """Call after every blueprint is registered."""
    app.config.setdefault("REMEMBER_COOKIE_SECURE", app.config.get("SESSION_COOKIE_SECURE", True))
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.after_request(security_headers)
