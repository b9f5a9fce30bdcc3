"""Checks of the budget invariant (DESIGN.md #9) over the whole database, registered with
`mall audit` (mall/audit.py): what each budget month says it spent is the sum of the
discretionary points charged to it, grant by grant (less what refunds inside the return
window gave back: `reversed_points`)."""
from ..audit import Check, register

BUDGET_CHECKS = [
    Check("each budget month's spend equals the points issued against it (used = issued less given back, "
          "over = approved less forfeited)", """
        SELECT b.id, b.used_points, b.over_points,
               COALESCE(SUM(CASE WHEN g.status IN ('issued', 'reversed') THEN g.points - g.reversed_points END), 0)
                 AS issued,
               COALESCE(SUM(CASE WHEN g.status = 'approved' THEN g.points - g.reversed_points END), 0) AS approved
        FROM budget_months b LEFT JOIN discretionary_grants g
          ON g.month = b.month AND ((b.store_id IS NOT NULL AND g.store_id = b.store_id)
                                    OR (b.programme_budget_id IS NOT NULL AND g.programme_budget_id = b.programme_budget_id))
        GROUP BY b.id, b.used_points, b.over_points
        HAVING b.used_points <> COALESCE(SUM(CASE WHEN g.status IN ('issued', 'reversed')
                                                  THEN g.points - g.reversed_points END), 0)
            OR b.over_points <> COALESCE(SUM(CASE WHEN g.status = 'approved' THEN g.points - g.reversed_points END), 0)"""),
    # A wallet item's face value (source 'wallet') is backed by the wallet item, not a ledger
    # credit: mall/wallet/audit.py checks those. A game's goods or coupon prize is charged at its
    # value in points but credits no points: mall/games/audit.py checks it against the play.
    Check("each issued or approved grant is backed by a ledger credit", """
        SELECT g.id, g.status, g.entry_id FROM discretionary_grants g
        LEFT JOIN ledger_entries e ON e.id = g.entry_id
        WHERE g.status IN ('issued', 'approved') AND g.source <> 'wallet'
          AND NOT (g.kind = 'game' AND g.entry_id IS NULL)
          AND (e.id IS NULL OR e.member_id <> g.member_id OR e.points < g.points)"""),
]

register(*BUDGET_CHECKS)
