"""Point Mall: create_app() wires configuration, extensions, blueprints, CLI and error pages."""
import logging

from flask import Flask, has_request_context, request, session
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from .clock import SystemClock
from .config import INSTANCE_DIR, config_from_env
from . import settings, unit_of_work
from .extensions import babel, csrf, db, limiter, login_manager, migrate
from .inventory.admission import NoAdmission, RedisAdmission
from .locks import locks_for, redis_client
from . import web
from .web import htmx

LOCALES = ("en", "zh_Hans")


def select_locale() -> str:
    if not has_request_context():  # CLI and jobs speak the default language
        return "en"
    # The session's choice first (set by the switch and at login): a refused flash-sale tap
    # then renders without loading the member from the database.
    if session.get("locale") in LOCALES:
        return session["locale"]
    if current_user and current_user.is_authenticated and current_user.locale in LOCALES:
        return current_user.locale
    best = request.accept_languages.best_match(["en", "zh", "zh-CN", "zh-Hans", "zh-TW", "zh-HK"])
    return "zh_Hans" if best and best.startswith("zh") else "en"


class MallApp(Flask):
    def handle_user_exception(self, e):
        """An exception escaped the view (a domain error, an abort, a bug): whatever answers
        it, the request's writes are rolled back before the answer is rendered."""
        unit_of_work.rollback()
        return super().handle_user_exception(e)


def create_app(config=None, *, clock=None) -> Flask:
    app = MallApp(__name__, instance_path=str(INSTANCE_DIR), template_folder="../templates",
                static_folder="../static")
    app.config.from_object(config or config_from_env())
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY must be set outside development (MALL_ENV=development).")
    logging.basicConfig(level=logging.INFO)
    INSTANCE_DIR.mkdir(exist_ok=True)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Wait for a writer instead of failing at once with "database is locked".
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 15}}

    if app.config.get("MALL_PROXY_HOPS"):
        # The client's address, scheme and host as the proxy saw them (docs/hq.md, "Behind a proxy").
        hops = app.config["MALL_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    # First after-request hook registered, so the last to run: it compresses the final body.
    from . import compression
    compression.init_app(app)
    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            _sqlite_for_concurrency(db.engine)
    migrate.init_app(app, db, directory=str(INSTANCE_DIR.parent / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message_category = "info"
    # Flask-Login's own message is English only: translate it when it is flashed.
    login_manager.login_message = _l("Please log in to access this page.")
    login_manager.localize_callback = str
    # Rate limits share Redis with the locks; a Redis hiccup lets requests through rather
    # than refusing the counter (the database still makes every effect happen once).
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "mall:rl")
    # "No more than N in any minute", not per clock minute: a burst can't straddle a boundary.
    app.config.setdefault("RATELIMIT_STRATEGY", "moving-window")
    limiter.init_app(app)
    app.extensions["mall.clock"] = clock or SystemClock()
    settings.reload(app)
    client = redis_client(app.config.get("REDIS_URL"))
    app.extensions["mall.redis"] = client
    app.extensions["mall.locks"] = locks_for(client)
    app.extensions["mall.admission"] = RedisAdmission(client) if client is not None else NoAdmission()
    from .catalog import cache as catalog_cache
    catalog_cache.init_app(app, client)  # without Redis: no cache (nothing to tell other workers an edit)

    from . import models  # noqa: F401  (every table registered before create_all/migrate)
    # Each domain's invariant checks join `mall audit`'s registry (mall/audit.py) on import.
    from .points import audit as _  # noqa: F401
    from .checkout import audit as _  # noqa: F401,F811
    from .inventory import audit as _  # noqa: F401,F811
    from .presale import audit as _  # noqa: F401,F811
    from .instore import audit as _  # noqa: F401,F811
    web.init_app(app)  # the edge: bounded <int:> ids, no control characters, no-store pages
    from .budgets import audit as _  # noqa: F401,F811
    from .games import audit as _  # noqa: F401,F811
    from .wallet import audit as _  # noqa: F401,F811
    from .redpackets import audit as _  # noqa: F401,F811
    from .bookings import audit as _  # noqa: F401,F811
    from .accounts.views import bp as accounts_bp
    from .api.views import bp as api_bp
    from .api import coupon_views  # noqa: F401  (the coupon endpoints, on the API blueprint)
    from .catalog.views import bp as catalog_bp
    from .checkout.views import bp as checkout_bp
    from .console.views import bp as console_bp
    from .hq.views import bp as hq_bp
    from .instore.views import bp as instore_bp
    from .points.views import bp as points_bp
    from .presale.views import bp as presale_bp
    from .bookings.views import bp as bookings_bp
    from .rights.views import bp as rights_bp
    from .storefront.views import bp as storefront_bp
    for bp in (accounts_bp, storefront_bp, catalog_bp, checkout_bp, presale_bp, points_bp, console_bp, instore_bp, api_bp, hq_bp,
               bookings_bp, rights_bp):
        app.register_blueprint(bp)
    from .engagement.views import bp as engagement_bp
    from .notifications.views import bp as notifications_bp
    from .wallet.views import bp as wallet_bp
    app.register_blueprint(engagement_bp)
    app.register_blueprint(notifications_bp)
    from .games.views import bp as games_bp
    app.register_blueprint(games_bp)
    app.register_blueprint(wallet_bp)
    from .redpackets.views import bp as redpackets_bp
    app.register_blueprint(redpackets_bp)
    from .appeals.views import bp as appeals_bp
    app.register_blueprint(appeals_bp)

    from .cli import mall_cli
    app.cli.add_command(mall_cli)
    from . import health, replica
    health.init_app(app)  # /healthz for the balancer, X-Mall-Node (several app nodes)
    replica.init_app(app)  # HQ's reporting reads on MALL_ANALYTICS_DATABASE_URL when set
    from .templating import register_templating
    register_templating(app)
    unit_of_work.init_app(app)
    # HQ (issue 7): security headers and rate limits on every route, and the device cookie
    # that risk screening reads (mall/origin.py).
    from .security import init_security
    init_security(app)
    from .origin import init_app as init_origin
    init_origin(app)
    # Domain events (mall/events.py): the reacting domains connect their receivers once.
    from .budgets import receivers as budget_receivers
    from .engagement import receivers as engagement_receivers
    from .hq import receivers as hq_receivers
    from .notifications import receivers as notification_receivers
    from .games import receivers as game_receivers
    from .wallet import receivers as wallet_receivers
    from .bookings import receivers as booking_receivers
    from .rights import receivers as right_receivers
    for receivers in (engagement_receivers, notification_receivers, hq_receivers, budget_receivers,
                      wallet_receivers, game_receivers, booking_receivers, right_receivers):
        receivers.connect()
    _error_pages(app)
    # Outermost: versioned static files with far-future caching and gzip (issue 17).
    from . import static_files
    static_files.init_app(app)
    return app


def _sqlite_for_concurrency(engine) -> None:
    """The embedded default serves concurrent requests too (the demo's flash sale). WAL lets
    readers run beside the one writer, and each transaction takes the write lock when it
    begins (BEGIN IMMEDIATE), waiting up to the busy timeout (connect_args): a deferred
    transaction that read first and then wants to write would be refused at once ("database
    is locked"), as SQLite can't let it wait without risking a deadlock. pysqlite's own
    transaction handling is switched off, so SQLAlchemy's BEGIN and SAVEPOINTs are what
    SQLite sees."""
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode = WAL")  # an in-memory database stays in "memory"
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _error_pages(app: Flask) -> None:
    for code in (400, 403, 404, 405, 413, 429, 500):
        def handler(error, code=code):  # the request's writes are already rolled back (MallApp)
            return web.error_page(error, code)
        app.register_error_handler(code, handler)
