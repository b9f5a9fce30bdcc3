"""Stock movement checks for `mall audit` (DESIGN.md #2, #6): every change to the counters
went through the inventory services, which write a movement beside each conditional UPDATE,
so the counters can be re-derived from the movement history."""
from ..audit import Check, register

MOVEMENT_CHECKS = [
    Check("stock received equals the sum of its receipts and adjustments", """
        SELECT s.item_id, s.received, COALESCE(SUM(m.quantity), 0) AS moved FROM stock_levels s
        LEFT JOIN stock_movements m ON m.item_id = s.item_id AND m.kind IN ('receive', 'adjust')
        GROUP BY s.item_id, s.received HAVING s.received <> COALESCE(SUM(m.quantity), 0)"""),
    Check("stock sold equals the sum of its sales and returns", """
        SELECT s.item_id, s.sold, COALESCE(SUM(m.quantity), 0) AS moved FROM stock_levels s
        LEFT JOIN stock_movements m ON m.item_id = s.item_id AND m.kind IN ('sell', 'return')
        GROUP BY s.item_id, s.sold HAVING s.sold <> COALESCE(SUM(m.quantity), 0)"""),
    Check("every stock movement is of a known kind", """
        SELECT id, item_id, kind FROM stock_movements
        WHERE kind NOT IN ('receive', 'adjust', 'reserve', 'release', 'sell', 'return')"""),
]

STOCK_CHECKS = [
    Check("stock counters are never negative and never oversold", """
        SELECT item_id, received, reserved, sold FROM stock_levels
        WHERE received < 0 OR reserved < 0 OR sold < 0 OR reserved + sold > received"""),
]

register(*STOCK_CHECKS, *MOVEMENT_CHECKS)
