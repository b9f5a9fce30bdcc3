"""The stack's floor for a checkout (issue 15): the real app, with the buy view's body
replaced by the answer a successful checkout gives, and nothing else changed. Served by
gunicorn as `bench.floor:floor_app()` (bench/stack_floor.py).

A request to it passes through everything a checkout request passes through before and
after its own work: gunicorn, Flask's routing and context locals, the session cookie,
Flask-Login's member row (one PostgreSQL transaction: BEGIN, the row, COMMIT), the
sold-out gate's Redis read, CSRF, the rate limiter, the unit of work, the security and cache
headers, and the HTMX redirect. It prices nothing, locks nothing and writes nothing. So
its requests/s ÷ the ceiling's is the most that ANY checkout written inside this Flask app
could reach: what the checkout's own work costs comes off it.
"""
from flask import url_for

from mall import create_app
from mall.accounts.models import Role
from mall.web import redirect_to, roles_required


@roles_required(Role.MEMBER)
def floor(item_id: int):
    return redirect_to(url_for("checkout.order", order_id=item_id))


def floored(app):
    """`app` with the buy view's body replaced. Same URL, endpoint and decorator as
    checkout.buy_now: every hook that looks at the endpoint (the sold-out gate, CSRF, the
    limiter) does what it does for a real checkout."""
    app.view_functions["checkout.buy_now"] = floor
    return app


def floor_app():
    """The app factory gunicorn calls: `gunicorn 'bench.floor:floor_app()'`."""
    return floored(create_app())
