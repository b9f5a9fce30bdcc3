"""What a load balancer needs from each app node: `/healthz` and the node's name.

`/healthz` answers 200 {"db": "ok", "redis": "ok"} when this node can reach PostgreSQL
(SELECT 1) and Redis (PING), each with a short timeout, and 503 naming what failed
otherwise, so HAProxy takes a node that lost its database or Redis out of rotation instead
of sending members to it. It reads no session, sets no cookie, needs no login or CSRF token
and is exempt from the rate limits (the balancer probes it every few seconds).

MALL_NODE_NAME (when set) is sent on every response as X-Mall-Node: which node answered is
visible in a browser's network tab and in the cluster test, which proves that one member's
requests land on different nodes.
"""
import logging

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text

from .extensions import db, limiter
from .locks import app_redis

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)
DB_TIMEOUT_MS = 1500


def _database_ok() -> bool:
    try:
        if db.engine.dialect.name == "postgresql":
            # A database that hangs must fail the probe, not hold the probe (or a worker).
            db.session.execute(text(f"SET LOCAL statement_timeout = {DB_TIMEOUT_MS}"))
        db.session.execute(text("SELECT 1"))
        return True
    except Exception as exc:  # any failure is "not healthy"; the probe must still answer
        log.warning("healthz: database check failed: %s", exc)
        return False
    finally:
        db.session.rollback()


def _redis_state() -> str:
    client = app_redis()
    if client is None:
        return "off"  # no REDIS_URL: one process, in-process locks (the embedded demo)
    try:
        client.ping()  # the client's own 2 s socket timeouts (mall/locks.py)
        return "ok"
    except Exception as exc:
        log.warning("healthz: redis check failed: %s", exc)
        return "down"


@bp.route("/healthz", methods=["GET"])
@limiter.exempt
def healthz():
    state = {"db": "ok" if _database_ok() else "down", "redis": _redis_state()}
    node = current_app.config.get("MALL_NODE_NAME")
    if node:
        state["node"] = node
    healthy = state["db"] == "ok" and state["redis"] != "down"
    response = jsonify(state)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    node = app.config.get("MALL_NODE_NAME")
    if node:
        @app.after_request
        def _node_header(response):
            response.headers["X-Mall-Node"] = node
            return response
