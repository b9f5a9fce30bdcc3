"""Games' invariant checks for `mall audit` (mall/audit.py): prizes within stock, each play
paid once and delivered once, and each prize's budget charge backed by its delivery."""
from ..audit import Check, register

GAME_CHECKS = [
    Check("games: each prize of value counts exactly the plays that won it, within its stock", """
        SELECT p.id, p.awarded, p.stock, COUNT(g.id) AS won FROM game_prizes p
        LEFT JOIN game_plays g ON g.prize_id = p.id
        WHERE p.cost_points > 0
        GROUP BY p.id, p.awarded, p.stock
        HAVING p.awarded <> COUNT(g.id) OR (p.stock IS NOT NULL AND p.awarded > p.stock)"""),
    Check("games: each play paid with points has its one ledger spend of the game's price", """
        SELECT g.id, g.points_paid, e.points FROM game_plays g
        LEFT JOIN ledger_entries e ON e.id = g.spend_entry_id
        WHERE (g.points_paid > 0 AND (e.id IS NULL OR e.points <> -g.points_paid OR e.member_id <> g.member_id
                                      OR e.source <> 'game'))
           OR (g.points_paid = 0 AND g.spend_entry_id IS NOT NULL)
           OR (g.points_paid = 0 AND NOT g.used_draw)"""),
    Check("games: draws used equal the plays paid with a draw", """
        SELECT b.game_id, b.member_id, b.used, COUNT(g.id) AS plays FROM game_draw_balances b
        LEFT JOIN game_plays g ON g.game_id = b.game_id AND g.member_id = b.member_id AND g.used_draw
        GROUP BY b.game_id, b.member_id, b.used, b.earned
        HAVING b.used <> COUNT(g.id) OR b.earned <> (SELECT COUNT(*) FROM game_draw_credits c
                                                      WHERE c.game_id = b.game_id AND c.member_id = b.member_id)"""),
    Check("games: each prize of value was charged to the budget and delivered (points credited or order written)", """
        SELECT g.id, g.prize_id, g.cost_points, g.grant_id, g.credit_entry_id, g.order_id FROM game_plays g
        JOIN game_prizes p ON p.id = g.prize_id
        LEFT JOIN discretionary_grants d ON d.id = g.grant_id
        LEFT JOIN ledger_entries e ON e.id = g.credit_entry_id
        WHERE g.cost_points <> p.cost_points
           OR (p.cost_points > 0 AND (d.id IS NULL OR d.points <> p.cost_points OR d.kind <> 'game'
                                      OR d.member_id <> g.member_id))
           OR (p.kind = 'points' AND (e.id IS NULL OR e.points <> p.points OR e.member_id <> g.member_id))
           OR (p.kind = 'item' AND g.order_id IS NULL)
           OR (p.kind IN ('coupon', 'red_packet') AND g.wallet_item_id IS NULL)
           OR (p.cost_points = 0 AND (g.grant_id IS NOT NULL OR g.credit_entry_id IS NOT NULL OR g.order_id IS NOT NULL))"""),
    Check("games: each coupon or red packet won is in the winner's wallet, issued by the game", """
        SELECT g.id, g.wallet_item_id FROM game_plays g JOIN wallet_items w ON w.id = g.wallet_item_id
        WHERE w.account_id <> g.member_id OR w.source <> 'game'"""),
    Check("games: every game grant without a ledger credit belongs to a goods or coupon prize's play", """
        SELECT d.id FROM discretionary_grants d
        WHERE d.kind = 'game' AND d.entry_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM game_plays g JOIN game_prizes p ON p.id = g.prize_id
                          WHERE g.grant_id = d.id AND p.kind IN ('item', 'coupon', 'red_packet'))"""),
]

register(*GAME_CHECKS)
