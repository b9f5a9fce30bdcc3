"""Presale and substitute settlement checks for `mall audit` (DESIGN.md #7)."""
from ..audit import Check, register

PRESALE_CHECKS = [
    Check("presale: no pre-order was served ahead of an earlier one still waiting", """
        SELECT served.id, served.queue_position, waiting.id, waiting.queue_position FROM orders served
        JOIN orders waiting ON waiting.presale_id = served.presale_id AND waiting.status = 'preordered'
             AND waiting.queue_position < served.queue_position
        WHERE served.presale_id IS NOT NULL AND served.status IN ('ready', 'picked_up')"""),
    Check("presale: every shortfall offer has a deadline, and only pre-orders get one", """
        SELECT id, status, presale_id, offer_deadline FROM orders
        WHERE (status = 'offered' AND (offer_deadline IS NULL OR presale_id IS NULL))"""),
    Check("presale and substitute settlements: each pre-order's points net to its total, refunds to zero", """
        SELECT o.id, o.status, o.points_total, COALESCE(SUM(e.points), 0) AS ledger FROM orders o
        LEFT JOIN ledger_entries e ON e.source IN ('order', 'order-refund') AND e.member_id = o.member_id
             AND (e.idempotency_key = 'order:' || CAST(o.id AS VARCHAR)
                  OR e.idempotency_key LIKE 'order:' || CAST(o.id AS VARCHAR) || ':%')
        WHERE o.presale_id IS NOT NULL
        GROUP BY o.id, o.status, o.points_total
        HAVING (o.status = 'refunded' AND COALESCE(SUM(e.points), 0) <> 0)
            OR (o.status <> 'refunded' AND COALESCE(SUM(e.points), 0) <> -o.points_total)"""),
    Check("ready and picked-up orders sold exactly the items on their lines, substitutes included", """
        SELECT o.id, l.item_id, SUM(l.quantity) AS ordered, MAX(r.quantity) AS sold FROM orders o
        JOIN order_lines l ON l.order_id = o.id
        LEFT JOIN reservations r ON r.order_id = o.id AND r.item_id = l.item_id AND r.status = 'confirmed'
        WHERE o.status IN ('ready', 'picked_up')
        GROUP BY o.id, l.item_id HAVING MAX(r.quantity) IS NULL OR SUM(l.quantity) <> MAX(r.quantity)"""),
]

register(*PRESALE_CHECKS)
