"""Invariant checks for orders and stock holds (DESIGN.md #2, #3, #4), run by `mall audit`."""
from ..audit import Check, register

ORDER_CHECKS = [
    Check("stock reserved equals the sum of held reservations", """
        SELECT s.item_id, s.reserved, COALESCE(SUM(r.quantity), 0) AS held FROM stock_levels s
        LEFT JOIN reservations r ON r.item_id = s.item_id AND r.status = 'held'
        GROUP BY s.item_id, s.reserved HAVING s.reserved <> COALESCE(SUM(r.quantity), 0)"""),
    Check("stock sold equals the sum of confirmed reservations", """
        SELECT s.item_id, s.sold, COALESCE(SUM(r.quantity), 0) AS confirmed FROM stock_levels s
        LEFT JOIN reservations r ON r.item_id = s.item_id AND r.status = 'confirmed'
        GROUP BY s.item_id, s.sold HAVING s.sold <> COALESCE(SUM(r.quantity), 0)"""),
    Check("each order's totals equal the sum of its lines", """
        SELECT o.id, o.points_total, o.cash_total_minor FROM orders o JOIN order_lines l ON l.order_id = o.id
        GROUP BY o.id, o.points_total, o.cash_total_minor
        HAVING o.points_total <> SUM(l.points) OR o.cash_total_minor <> SUM(l.cash_minor)"""),
    Check("live orders hold their points in the ledger; ended orders gave them all back", """
        SELECT o.id, o.status, o.points_total, COALESCE(SUM(e.points), 0) AS ledger FROM orders o
        LEFT JOIN ledger_entries e ON e.reference = o.number AND e.source IN ('order', 'order-refund')
        GROUP BY o.id, o.status, o.points_total
        HAVING (o.status IN ('awaiting_payment', 'in_review', 'ready', 'picked_up', 'preordered', 'offered', 'fulfilled') AND COALESCE(SUM(e.points), 0) <> -o.points_total)
            OR (o.status IN ('cancelled', 'expired', 'payment_failed', 'refunded') AND COALESCE(SUM(e.points), 0) <> 0)"""),
    Check("card-paid orders ready or picked up have a succeeded payment of the cash due", """
        SELECT o.id, o.cash_total_minor, p.amount_minor, p.status FROM orders o
        LEFT JOIN payments p ON p.order_id = o.id
        WHERE o.payment_mode = 'stripe' AND o.status IN ('ready', 'picked_up', 'fulfilled')
          AND (p.id IS NULL OR p.status <> 'succeeded' OR p.amount_minor <> o.cash_total_minor)"""),
    Check("no money is kept for an order that won't be filled", """
        SELECT o.id, o.status, p.status FROM orders o JOIN payments p ON p.order_id = o.id
        WHERE o.status IN ('cancelled', 'expired', 'payment_failed', 'refunded') AND p.status = 'succeeded'"""),
    Check("presale places taken equal the units pre-ordered, within the cap", """
        SELECT p.id, p.cap, p.taken, COALESCE(SUM(l.quantity), 0) AS ordered FROM presales p
        LEFT JOIN orders o ON o.presale_id = p.id LEFT JOIN order_lines l ON l.order_id = o.id
        GROUP BY p.id, p.cap, p.taken HAVING p.taken <> COALESCE(SUM(l.quantity), 0) OR p.taken > p.cap"""),
    Check("pre-orders waiting or on offer hold no stock yet", """
        SELECT o.id, o.status, r.status FROM orders o JOIN reservations r ON r.order_id = o.id
        WHERE o.status IN ('preordered', 'offered') AND r.status <> 'released'"""),
    Check("live orders hold or sold their stock; ended orders released it", """
        SELECT o.id, o.status, r.item_id, r.status FROM orders o JOIN reservations r ON r.order_id = o.id
        WHERE (o.status = 'awaiting_payment' AND r.status <> 'held')
           OR (o.status IN ('ready', 'picked_up', 'fulfilled') AND r.status <> 'confirmed')
           OR (o.status IN ('cancelled', 'expired', 'payment_failed', 'refunded') AND r.status <> 'released')"""),
]

register(*ORDER_CHECKS)
