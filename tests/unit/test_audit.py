"""`flask mall audit` passes on demo data and fails on a ledger corrupted by hand."""
from sqlalchemy import text

from mall.demo import load_demo
from mall.extensions import db


def _audit(app):
    return app.test_cli_runner().invoke(args=["mall", "audit"])


def test_audit_passes_on_demo_data(app, clock):
    load_demo(clock.now())
    db.session.commit()
    result = _audit(app)
    assert result.exit_code == 0, result.output
    assert "All checks passed." in result.output
    assert "[ok  ] account balance equals the sum of its ledger entries" in result.output


def test_demo_is_idempotent_and_has_members_at_every_tier(app, clock):
    from mall.accounts.services import find_by_identifier
    from mall.points.tiers import tier_status
    load_demo(clock.now())
    db.session.commit()
    counts = db.session.execute(text("SELECT (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM items)")).one()
    load_demo(clock.now())
    db.session.commit()
    assert db.session.execute(text("SELECT (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM items)")).one() == counts
    assert counts[1] >= 30
    tiers = {tier_status(find_by_identifier(login).id, clock.now()).tier.code
             for login in ("silver@example.com", "13800000002", "diamond@example.com")}
    assert tiers == {"silver", "gold", "diamond"}


def test_audit_fails_when_a_balance_is_edited_by_hand(app, clock):
    load_demo(clock.now())
    db.session.commit()
    db.session.execute(text("UPDATE points_accounts SET balance = balance + 500 "
                            "WHERE member_id = (SELECT min(member_id) FROM ledger_entries)"))
    db.session.commit()
    result = _audit(app)
    assert result.exit_code == 1
    assert "[FAIL] account balance equals the sum of its ledger entries" in result.output


def test_audit_fails_when_a_lot_is_refilled_by_hand(app, clock):
    load_demo(clock.now())
    db.session.commit()
    db.session.execute(text("UPDATE point_lots SET remaining = amount WHERE id = "
                            "(SELECT min(lot_id) FROM lot_movements)"))
    db.session.commit()
    result = _audit(app)
    assert result.exit_code == 1
    assert "[FAIL] each lot's remainder is its amount plus its movements" in result.output


def test_audit_fails_when_a_ledger_line_is_deleted(app, clock):
    load_demo(clock.now())
    db.session.commit()
    db.session.execute(text("DELETE FROM lot_movements WHERE entry_id = (SELECT max(id) FROM ledger_entries WHERE kind = 'spend')"))
    db.session.execute(text("DELETE FROM ledger_entries WHERE id = (SELECT max(id) FROM ledger_entries WHERE kind = 'spend')"))
    db.session.commit()
    result = _audit(app)
    assert result.exit_code == 1
    assert "FAIL" in result.output


def test_demo_receipts_have_lines_so_hqs_dashboard_shows_categories_stores_and_regions(app, clock):
    from mall.hq import analytics
    from mall.instore.models import PurchaseLine
    load_demo(clock.now())
    db.session.commit()
    assert db.session.query(PurchaseLine.category).distinct().count() >= 6
    from mall.hq.views import dashboard_labels
    with app.test_request_context():
        labels = dashboard_labels()
    board = analytics.dashboard(analytics.make_filters(clock.now(), period=None), clock.now(), labels)
    charts = {key: board.charts[key].chart_data()["labels"] for key in ("category", "store", "region")}
    assert {"Fresh food", "Kitchen", "Beauty"} <= set(charts["category"])  # names, not slugs
    assert {"Store 12, Xuhui", "Store 3, Chaoyang"} <= set(charts["store"])
    assert {"Shanghai", "Beijing"} <= set(charts["region"])
    beauty = analytics.dashboard(analytics.make_filters(clock.now(), period=None, category="beauty"), clock.now(), labels)
    assert beauty.issued > 0 and beauty.redeemed > 0  # a redemption of several categories counts in each
