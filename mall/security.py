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

Rate limits live in Redis when REDIS_URL is set (Flask-Limiter, storage set in create_app),
so every worker shares them; the limits are settings (MALL_RATELIMIT_*).
"""
from flask import Flask, current_app, request

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

DEFAULT_LIMITS = {
    # Login is limited per network address and per login name, so one address can't try
    # many passwords on one account, nor one account be tried from many addresses fast.
    # Lenient per address (a mall's wifi puts many members behind one address), strict per
    # account (the guard against password guessing).
    "MALL_RATELIMIT_LOGIN": "30 per minute; 300 per hour",
    "MALL_RATELIMIT_LOGIN_PER_ACCOUNT": "5 per minute; 30 per hour",
    # Registration: every attempt, and (stricter) the accounts actually created.
    "MALL_RATELIMIT_REGISTER": "20 per minute; 100 per hour",
    "MALL_RATELIMIT_ACCOUNTS_CREATED": "5 per minute; 20 per hour",
    "MALL_RATELIMIT_CHECKIN": "10 per minute",
    "MALL_RATELIMIT_RESET": "5 per minute; 20 per hour",
}


def _limit(name: str):
    return lambda: current_app.config.get(name, DEFAULT_LIMITS[name])


def _login_name() -> str:
    return "login:" + (request.form.get("identifier") or "").strip().lower()[:254]


# Decorators for views (POST only: showing the form is never limited).
login_limit = limiter.limit(_limit("MALL_RATELIMIT_LOGIN"), methods=["POST"])
# Only failed attempts count against an account: its owner logging in is never slowed.
login_per_account_limit = limiter.limit(_limit("MALL_RATELIMIT_LOGIN_PER_ACCOUNT"), methods=["POST"],
                                        key_func=_login_name, deduct_when=lambda response: response.status_code != 302)
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
