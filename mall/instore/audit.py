"""`flask mall audit` checks for the counter and store purchases, each one SQL query that
returns the rows breaking it (registered with mall/audit.py)."""
from ..audit import Check, register

INSTORE_CHECKS = [
    Check("picked-up orders have exactly one hand-over, and only they have one", """
        SELECT o.id, o.status, p.id AS pickup FROM orders o LEFT JOIN pickups p ON p.order_id = o.id
        WHERE (o.status = 'picked_up') <> (p.id IS NOT NULL)"""),
    Check("cash taken at the counter never exceeds the order's cash part", """
        SELECT o.id, o.cash_total_minor, o.cash_collected_minor FROM orders o
        WHERE o.cash_collected_minor > o.cash_total_minor"""),
    Check("each claimed purchase was credited exactly its points, once", """
        SELECT p.id, p.points, e.points AS credited FROM purchases p
        LEFT JOIN ledger_entries e ON e.id = p.earn_entry_id
        WHERE p.member_id IS NOT NULL AND p.points > 0
          AND (e.id IS NULL OR e.points <> p.points OR e.member_id <> p.member_id)"""),
    Check("a refunded purchase took its points back or owes the rest as a clawback", """
        SELECT p.id, p.points, COALESCE(r.taken, 0) AS taken, COALESCE(c.points, 0) AS owed,
               COALESCE(l.refunded, 0) AS refunded_on_lines
        FROM purchases p
        LEFT JOIN (SELECT pr.id AS purchase_id, -SUM(e.points) AS taken FROM purchases pr
                   JOIN ledger_entries e ON e.source = 'receipt-refund'
                    AND (e.idempotency_key = 'purchase:' || pr.id OR e.idempotency_key LIKE 'purchase:' || pr.id || ':%')
                   GROUP BY pr.id) r ON r.purchase_id = p.id
        LEFT JOIN clawbacks c ON c.purchase_id = p.id
        LEFT JOIN (SELECT purchase_id, SUM(refunded_points) AS refunded FROM purchase_lines GROUP BY purchase_id) l
               ON l.purchase_id = p.id
        WHERE p.member_id IS NOT NULL
          AND (COALESCE(r.taken, 0) + COALESCE(c.points, 0) <> COALESCE(l.refunded, 0)
               OR (p.status = 'refunded' AND COALESCE(l.refunded, 0) <> p.points))"""),
    Check("a claimed purchase's lines add up to its amount and its points", """
        SELECT p.id, p.amount_minor, SUM(l.amount_minor), p.points, SUM(l.points) FROM purchases p
        JOIN purchase_lines l ON l.purchase_id = p.id
        GROUP BY p.id, p.amount_minor, p.points
        HAVING SUM(l.amount_minor) <> p.amount_minor OR (p.member_id IS NOT NULL AND SUM(l.points) <> p.points)"""),
    Check("each clawback's settled points equal its settlement lines", """
        SELECT c.id, c.settled, COALESCE(-SUM(e.points), 0) AS lines FROM clawbacks c
        LEFT JOIN ledger_entries e ON e.source = 'clawback' AND e.idempotency_key LIKE 'clawback:' || c.id || ':%'
        GROUP BY c.id, c.settled HAVING c.settled <> COALESCE(-SUM(e.points), 0)"""),
]

register(*INSTORE_CHECKS)
