"""Checks of the points invariants (DESIGN.md #1) over the whole database, registered
with `mall audit` (mall/audit.py)."""
from ..audit import Check, register

POINTS_CHECKS = [
    Check("account balance equals the sum of its ledger entries", """
        SELECT a.member_id, a.balance, COALESCE(SUM(e.points), 0) AS ledger
        FROM points_accounts a LEFT JOIN ledger_entries e ON e.member_id = a.member_id
        GROUP BY a.member_id, a.balance HAVING a.balance <> COALESCE(SUM(e.points), 0)"""),
    Check("every member with entries has an account", """
        SELECT DISTINCT e.member_id FROM ledger_entries e
        LEFT JOIN points_accounts a ON a.member_id = e.member_id WHERE a.member_id IS NULL"""),
    Check("account balance equals the sum of its lots' remainders", """
        SELECT a.member_id, a.balance, COALESCE(SUM(l.remaining), 0) AS lots
        FROM points_accounts a LEFT JOIN point_lots l ON l.member_id = a.member_id
        GROUP BY a.member_id, a.balance HAVING a.balance <> COALESCE(SUM(l.remaining), 0)"""),
    Check("no balance is negative", """
        SELECT member_id, balance FROM points_accounts WHERE balance < 0
        UNION ALL SELECT member_id, balance_after FROM ledger_entries WHERE balance_after < 0"""),
    Check("each entry's balance_after is the running sum of the member's entries", """
        SELECT id, member_id, balance_after, running FROM (
          SELECT id, member_id, balance_after,
                 SUM(points) OVER (PARTITION BY member_id ORDER BY id) AS running
          FROM ledger_entries) t WHERE balance_after <> running"""),
    Check("each lot's remainder is its amount plus its movements", """
        SELECT l.id, l.amount, l.remaining, COALESCE(SUM(m.points), 0) AS moved
        FROM point_lots l LEFT JOIN lot_movements m ON m.lot_id = l.id
        GROUP BY l.id, l.amount, l.remaining
        HAVING l.remaining <> l.amount + COALESCE(SUM(m.points), 0)
            OR l.remaining < 0 OR l.remaining > l.amount"""),
    Check("each earn created one lot of the same size", """
        SELECT e.id, e.points, l.amount FROM ledger_entries e
        LEFT JOIN point_lots l ON l.entry_id = e.id
        WHERE e.kind = 'earn' AND (l.id IS NULL OR l.amount <> e.points)"""),
    Check("each spend, expiry and refund is fully backed by lot movements", """
        SELECT e.id, e.kind, e.points, COALESCE(SUM(m.points), 0) AS moved
        FROM ledger_entries e LEFT JOIN lot_movements m ON m.entry_id = e.id
        WHERE e.kind IN ('spend', 'expire', 'refund')
        GROUP BY e.id, e.kind, e.points HAVING e.points <> COALESCE(SUM(m.points), 0)"""),
    Check("no spend took points from a lot that had already expired", """
        SELECT e.id, l.id AS lot_id FROM ledger_entries e
        JOIN lot_movements m ON m.entry_id = e.id JOIN point_lots l ON l.id = m.lot_id
        WHERE e.kind = 'spend' AND l.expires_at <= e.created_at"""),
    Check("no spend was refunded more than it took", """
        SELECT s.id, -s.points AS spent, SUM(r.points) AS refunded FROM ledger_entries s
        JOIN ledger_entries r ON r.reverses_id = s.id AND r.kind = 'refund'
        GROUP BY s.id, s.points HAVING SUM(r.points) > -s.points"""),
]

PENDING_CHECKS = [
    Check("account pending equals the remainders of its pending lots", """
        SELECT a.member_id, a.pending, COALESCE(SUM(l.remaining), 0) AS pending_lots
        FROM points_accounts a LEFT JOIN point_lots l ON l.member_id = a.member_id AND l.pending_state = 'pending'
        GROUP BY a.member_id, a.pending HAVING a.pending <> COALESCE(SUM(l.remaining), 0)"""),
    Check("pending points are never spent, expired or clawed back (only a cancelling refund takes them)", """
        SELECT e.id, e.kind, e.reason, l.id AS lot_id FROM lot_movements m
        JOIN ledger_entries e ON e.id = m.entry_id JOIN point_lots l ON l.id = m.lot_id
        WHERE m.points < 0 AND l.pending_state IS NOT NULL
          AND (l.released_at IS NULL OR e.created_at < l.released_at)
          AND NOT (e.kind = 'adjust' AND e.reason = 'purchase_refund')"""),
    Check("each pending lot is released, cancelled or still pending, consistently", """
        SELECT id, pending_state, remaining, released_at FROM point_lots
        WHERE (pending_state = 'cancelled' AND remaining <> 0)
           OR (pending_state = 'released' AND released_at IS NULL)
           OR (pending_state IN ('pending', 'cancelled') AND released_at IS NOT NULL)"""),
]

register(*POINTS_CHECKS, *PENDING_CHECKS)
