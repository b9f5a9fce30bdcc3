"""Settings read from the environment, one class per environment."""
import os
from pathlib import Path

from .shoptime import DEFAULT_ZONE

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


def _sqlite_default() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'mall.sqlite3'}"


def _database_url(url: str | None = None) -> str:
    url = url or os.environ.get("DATABASE_URL") or _sqlite_default()
    # Heroku-style URLs and bare "postgresql://" should use psycopg 3, which we ship.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class Config:
    ENV_NAME = "production"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = _database_url()
    # No pre-ping: it costs a round trip on every request. Recycle instead, so connections
    # never outlive a server-side idle timeout.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_recycle": 1800, "pool_size": 10, "max_overflow": 10}
    # redis://host:port/db for one Redis; redis+sentinel://host:port[,host:port...]/SERVICE
    # for the master Redis Sentinel names; redis+cluster://host:port[,host:port...] for a
    # Redis Cluster. The locks, admission counters, login slow-down and Flask-Limiter all
    # use the same kind of client (docs/deployment.md).
    REDIS_URL = os.environ.get("REDIS_URL") or None
    # Several app nodes (docs/deployment.md): this node's name, sent as X-Mall-Node on every
    # response and in /healthz, so which node answered is visible.
    MALL_NODE_NAME = os.environ.get("MALL_NODE_NAME") or None
    # HQ's reporting reads (mall/hq/analytics.py) on a PostgreSQL replica, when set; every
    # write and every other read stays on DATABASE_URL.
    MALL_ANALYTICS_DATABASE_URL = (_database_url(os.environ["MALL_ANALYTICS_DATABASE_URL"])
                                   if os.environ.get("MALL_ANALYTICS_DATABASE_URL") else None)
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "1") == "1"
    REMEMBER_COOKIE_HTTPONLY = True
    LANGUAGES = ["en", "zh_Hans"]
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = os.environ.get("MALL_TIMEZONE", DEFAULT_ZONE)
    MALL_CURRENCY = os.environ.get("MALL_CURRENCY", "CNY")
    MALL_CURRENCY_SYMBOL = os.environ.get("MALL_CURRENCY_SYMBOL", "¥")
    # One point is earned per this many minor units of qualifying spend (¥1 = 100 fen).
    MALL_EARN_BASE_MINOR_PER_POINT = int(os.environ.get("MALL_EARN_BASE_MINOR_PER_POINT", "100"))
    # Points that buy one currency unit of cash in offset plans (100 points = ¥1).
    MALL_POINTS_PER_CURRENCY_UNIT = int(os.environ.get("MALL_POINTS_PER_CURRENCY_UNIT", "100"))
    MALL_HOLD_MINUTES = int(os.environ.get("MALL_HOLD_MINUTES", "10"))
    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY") or None
    STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY") or None
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET") or None
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE") or None  # a local stand-in in tests
    MALL_UPLOAD_DIR = os.environ.get("MALL_UPLOAD_DIR") or str(INSTANCE_DIR / "uploads")
    # Static files (issue 17): WhiteNoise serves versioned copies and their gzip from here;
    # names without a version may be kept this many seconds.
    MALL_STATIC_BUILD_DIR = os.environ.get("MALL_STATIC_BUILD_DIR") or str(INSTANCE_DIR / "static-build")
    MALL_STATIC_MAX_AGE = int(os.environ.get("MALL_STATIC_MAX_AGE", "3600"))
    # Dynamic responses smaller than this go uncompressed (mall/compression.py).
    MALL_COMPRESS_MIN_BYTES = int(os.environ.get("MALL_COMPRESS_MIN_BYTES", "1024"))
    # Checkout's item, plans and tier prices may come from a per-worker copy this many seconds
    # old at most (a Redis version drops it at once on any edit; mall/catalog/cache.py). 0: off.
    MALL_CATALOG_CACHE_SECONDS = float(os.environ.get("MALL_CATALOG_CACHE_SECONDS", "5"))
    MAX_CONTENT_LENGTH = 8 * 1024 * 1024  # uploads: a 5 MB image plus the form around it
    # The largest CSV import read (whole, never cut); a larger file is refused with a message.
    MALL_CSV_MAX_BYTES = int(os.environ.get("MALL_CSV_MAX_BYTES", str(5 * 1024 * 1024)))
    MALL_PAGE_SIZE = 12
    MALL_EXPIRY_WARNING_DAYS = 30
    # Engagement (issue 6): task points, and the caps on all non-purchase points.
    MALL_TASK_CHECKIN_POINTS = int(os.environ.get("MALL_TASK_CHECKIN_POINTS", "5"))
    MALL_TASK_STREAK_DAYS = int(os.environ.get("MALL_TASK_STREAK_DAYS", "7"))      # a bonus every 7th day in a row
    MALL_TASK_STREAK_BONUS = int(os.environ.get("MALL_TASK_STREAK_BONUS", "30"))
    MALL_TASK_PROFILE_POINTS = int(os.environ.get("MALL_TASK_PROFILE_POINTS", "20"))  # per field, once
    MALL_TASK_REFERRAL_POINTS = int(os.environ.get("MALL_TASK_REFERRAL_POINTS", "200"))  # each side
    MALL_TASK_DAILY_CAP = int(os.environ.get("MALL_TASK_DAILY_CAP", "300"))
    MALL_TASK_MONTHLY_CAP = int(os.environ.get("MALL_TASK_MONTHLY_CAP", "1000"))
    # The check-in burst (issue 16): "sync" credits the ledger in the request (the SQLite
    # demo, no Redis); "queue" records the check-in in Redis, answers at once and lets the
    # queue workers credit it in batches (mall/engagement/burst.py). Needs REDIS_URL.
    MALL_CHECKIN_MODE = os.environ.get("MALL_CHECKIN_MODE", "sync")
    # With replicas: a queued check-in is answered once this many replicas have it (Redis WAIT).
    MALL_CHECKIN_WAIT_REPLICAS = int(os.environ.get("MALL_CHECKIN_WAIT_REPLICAS", "0"))
    # Celery's broker (mall/worker.py); REDIS_URL when unset.
    MALL_BROKER_URL = os.environ.get("MALL_BROKER_URL") or None
    # Notifications: "console" logs emails (development), "smtp" sends them.
    MALL_MAIL_BACKEND = os.environ.get("MALL_MAIL_BACKEND") or ("smtp" if os.environ.get("MALL_SMTP_HOST") else "console")
    MALL_SMTP_HOST = os.environ.get("MALL_SMTP_HOST", "127.0.0.1")
    MALL_SMTP_PORT = int(os.environ.get("MALL_SMTP_PORT", "25"))
    MALL_SMTP_USER = os.environ.get("MALL_SMTP_USER") or None
    MALL_SMTP_PASSWORD = os.environ.get("MALL_SMTP_PASSWORD") or None
    MALL_SMTP_STARTTLS = os.environ.get("MALL_SMTP_STARTTLS", "0") == "1"
    MALL_MAIL_FROM = os.environ.get("MALL_MAIL_FROM", "Point Mall <no-reply@pointmall.example>")
    # The site's public address: links in emails and receipt QR codes are built on it, never
    # on a request's Host header.
    MALL_BASE_URL = os.environ.get("MALL_BASE_URL", "http://127.0.0.1:5000")
    # Behind a reverse proxy (TLS terminated there), how many proxies set X-Forwarded-For,
    # -Proto and -Host: create_app then applies werkzeug's ProxyFix. 0: no proxy is trusted.
    MALL_PROXY_HOPS = int(os.environ.get("MALL_PROXY_HOPS", "0"))
    # In store (issue 5): pickup window, receipt QR lifetime, and rate limits (Flask-Limiter
    # syntax) on code entry (pickup codes at the counter and the API) and on earning.
    MALL_PICKUP_DAYS = int(os.environ.get("MALL_PICKUP_DAYS", "14"))
    # A service booking can be rescheduled (once) or cancelled up to this many hours before its slot starts.
    MALL_RESCHEDULE_CUTOFF_HOURS = int(os.environ.get("MALL_RESCHEDULE_CUTOFF_HOURS", "24"))
    MALL_RECEIPT_CODE_HOURS = int(os.environ.get("MALL_RECEIPT_CODE_HOURS", "24"))
    # Discretionary points (issue 11): the monthly budget of a store HQ has not set one for,
    # and the caps on a store staff member's manual grant; a grant over a cap (one grant, or
    # the store's staff grants in one shop-local day) waits for HQ's approval.
    MALL_STORE_DEFAULT_MONTHLY_POINTS = int(os.environ.get("MALL_STORE_DEFAULT_MONTHLY_POINTS", "20000"))
    # The monthly budget of a campaign or task kind HQ has not set a programme budget for
    # (created on first use, held when used up): no discretionary point is ever unbudgeted.
    MALL_PROGRAMME_DEFAULT_MONTHLY_POINTS = int(os.environ.get("MALL_PROGRAMME_DEFAULT_MONTHLY_POINTS", "20000"))
    MALL_STAFF_GRANT_MAX_POINTS = int(os.environ.get("MALL_STAFF_GRANT_MAX_POINTS", "1000"))
    MALL_STAFF_GRANT_DAILY_POINTS = int(os.environ.get("MALL_STAFF_GRANT_DAILY_POINTS", "3000"))
    # Purchase points stay pending (not spendable) for the return window, in days; a refund
    # inside it cancels them, and `mall jobs` releases them after it. 0 turns it off.
    MALL_RETURN_WINDOW_DAYS = int(os.environ.get("MALL_RETURN_WINDOW_DAYS", "7"))
    # What 100 points cost the programme, in minor units (HQ's cost and ROI figures).
    MALL_POINT_VALUE_MINOR_PER_100 = int(os.environ.get("MALL_POINT_VALUE_MINOR_PER_100", "100"))
    # Members are reminded once, this many days before a coupon or red packet expires.
    MALL_COUPON_REMINDER_DAYS = int(os.environ.get("MALL_COUPON_REMINDER_DAYS", "3"))
    # Risk control: earning velocity per member, device and address (earns per window in
    # seconds), and the order-screening thresholds.
    MALL_RISK_VELOCITY = {"member": (20, 3600), "device": (40, 3600), "ip": (60, 3600)}
    MALL_RISK_CLUSTER_SIZE = 3
    MALL_RISK_NEW_ACCOUNT_DAYS = 7
    MALL_RISK_HIGH_VALUE_POINTS = 10_000
    MALL_RISK_HIGH_VALUE_MINOR = 50_000
    MALL_RISK_ADDRESS_ORDERS = 5
    # Loopback and private addresses are a proxy's or an office's, not a customer's: the
    # address rules ignore them unless told otherwise (run behind ProxyFix in production so
    # the client's own address is seen).
    MALL_RISK_PRIVATE_ADDRESSES = False
    # RFM segments (HQ): loyal, potential and dormant members.
    MALL_RFM_LOYAL_DAYS = 60
    MALL_RFM_LOYAL_PURCHASES = 6
    MALL_RFM_LOYAL_SPEND_MINOR = 200_000
    MALL_RFM_POTENTIAL_DAYS = 30
    MALL_RFM_DORMANT_DAYS = 90
    MALL_CODE_ENTRY_RATE_LIMIT = os.environ.get("MALL_CODE_ENTRY_RATE_LIMIT", "30 per minute")
    MALL_EARN_RATE_LIMIT = os.environ.get("MALL_EARN_RATE_LIMIT", "120 per minute")
    # Rate limits on the doors credential stuffers and point farmers knock on (mall/security.py,
    # Flask-Limiter syntax). A load test logging many members in from one address raises
    # MALL_RATELIMIT_LOGIN (and MALL_RATELIMIT_LOGIN_PER_ACCOUNT), e.g. "100000 per minute".
    MALL_RATELIMIT_LOGIN = os.environ.get("MALL_RATELIMIT_LOGIN", "30 per minute; 300 per hour")  # per address
    # Per account, failures only: this many wrong passwords are free within the window (the
    # window is forgotten once it passes with no failure); past them every attempt on the
    # account waits after the previous one, 1 s doubling up to MALL_RATELIMIT_LOGIN_MAX_DELAY
    # seconds. A slow-down, never a lock (mall/accounts/throttle.py).
    MALL_RATELIMIT_LOGIN_PER_ACCOUNT = os.environ.get("MALL_RATELIMIT_LOGIN_PER_ACCOUNT", "5 per 15 minutes")
    MALL_RATELIMIT_LOGIN_MAX_DELAY = int(os.environ.get("MALL_RATELIMIT_LOGIN_MAX_DELAY", "30"))
    MALL_RATELIMIT_REGISTER = os.environ.get("MALL_RATELIMIT_REGISTER", "20 per minute; 100 per hour")
    MALL_RATELIMIT_ACCOUNTS_CREATED = os.environ.get("MALL_RATELIMIT_ACCOUNTS_CREATED", "5 per minute; 20 per hour")
    MALL_RATELIMIT_CHECKIN = os.environ.get("MALL_RATELIMIT_CHECKIN", "10 per minute")
    MALL_RATELIMIT_RESET = os.environ.get("MALL_RATELIMIT_RESET", "5 per minute; 20 per hour")


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-not-secret"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-only-not-secret"
    SESSION_COOKIE_SECURE = False
    WTF_CSRF_ENABLED = False
    MALL_STRICT_REFUSALS = True  # a 4xx/5xx answered after writes fails the test (unit_of_work)
    PASSWORD_HASH_FAST = True  # cheap Argon2 parameters: hundreds of logins per suite
    # Purchase points spendable at once in the suite: the tests written before pending points
    # spend what they earn; the pending tests set a window themselves (settings.reload).
    MALL_RETURN_WINDOW_DAYS = 0
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    REDIS_URL = None
    MALL_BASE_URL = "http://localhost"  # the test client's own address


CONFIGS = {"production": Config, "development": DevelopmentConfig, "test": TestConfig}


def config_from_env() -> type[Config]:
    return CONFIGS[os.environ.get("MALL_ENV", "production")]
