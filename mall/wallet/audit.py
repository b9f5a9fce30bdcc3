"""Checks of the wallet's invariants over the whole database, registered with `mall audit`
(mall/audit.py). Issued = available + used + expired + cancelled per coupon spec and per
red-packet campaign (source_ref), in count and value; every state is consistent with its
dates and redemption; every budgeted face value is backed by its wallet item and vice versa.

The liability is the face value of `available` items (what members can still spend); the
cost dashboard reads it from wallet_items. Outstanding = issued − used − expired − cancelled,
which is what the first check holds."""
from ..audit import Check, register

# A spec's coupons, or a red-packet campaign's packets (spec_id NULL: grouped by source_ref's
# campaign part, "campaign:<id>:..." or the whole ref), counted and valued per state.
_GROUPS = """
    SELECT COALESCE('spec:' || CAST(spec_id AS VARCHAR), 'packets:' || source) AS grp,
           COUNT(*) AS issued, COALESCE(SUM(COALESCE(value_minor, cap_minor, 0)), 0) AS issued_value,
           SUM(CASE WHEN state = 'available' THEN 1 ELSE 0 END) AS available,
           SUM(CASE WHEN state = 'used' THEN 1 ELSE 0 END) AS used,
           SUM(CASE WHEN state = 'expired' THEN 1 ELSE 0 END) AS expired,
           SUM(CASE WHEN state = 'cancelled' THEN 1 ELSE 0 END) AS cancelled,
           COALESCE(SUM(CASE WHEN state IN ('available', 'used', 'expired', 'cancelled')
                             THEN COALESCE(value_minor, cap_minor, 0) END), 0) AS accounted_value
    FROM wallet_items GROUP BY COALESCE('spec:' || CAST(spec_id AS VARCHAR), 'packets:' || source)"""

WALLET_CHECKS = [
    # An order issues wallet items only for coupon and red_packet lines (wallet.receivers): a
    # spec linked to goods (or a service or right) would be sold and never delivered.
    Check("a coupon spec is sold only by a coupon or red-packet catalogue item", """
        SELECT s.id, s.item_id, i.kind FROM coupon_specs s JOIN items i ON i.id = s.item_id
        WHERE i.kind NOT IN ('coupon', 'red_packet')"""),
    Check("each coupon spec and red-packet source: issued = available + used + expired + cancelled "
          "(count and value)", f"""
        SELECT grp, issued, available, used, expired, cancelled, issued_value, accounted_value FROM ({_GROUPS}) g
        WHERE issued <> available + used + expired + cancelled OR issued_value <> accounted_value"""),
    Check("each used wallet item has its time, its discount and one redemption; no other state has them", """
        SELECT id, state FROM wallet_items
        WHERE (state = 'used' AND (used_at IS NULL OR used_at < issued_at OR discount_minor IS NULL
                                   OR (purchase_id IS NULL AND order_id IS NULL)
                                   OR (purchase_id IS NOT NULL AND redeemed_store_id IS NULL)))
           OR (state <> 'used' AND (used_at IS NOT NULL OR purchase_id IS NOT NULL OR order_id IS NOT NULL))
           OR (state = 'cancelled' AND cancelled_at IS NULL)"""),
    Check("a fixed-value coupon or red packet never took off more than its value", """
        SELECT id, kind, value_minor, discount_minor FROM wallet_items
        WHERE state = 'used' AND kind IN ('threshold', 'amount', 'red_packet') AND discount_minor > value_minor"""),
    Check("a coupon spent on a store purchase was spent at that purchase's store", """
        SELECT w.id, w.redeemed_store_id, p.store_id FROM wallet_items w JOIN purchases p ON p.id = w.purchase_id
        WHERE w.redeemed_store_id <> p.store_id"""),
    Check("each budget grant of a wallet item is backed by that item, for the same member", """
        SELECT g.id, g.idempotency_key FROM discretionary_grants g
        LEFT JOIN wallet_items w ON 'item:' || CAST(w.id AS VARCHAR) = g.idempotency_key
        WHERE g.source = 'wallet' AND (w.id IS NULL OR w.account_id <> g.member_id)"""),
    Check("each HQ-issued coupon with a face value was charged to a budget", """
        SELECT w.id FROM wallet_items w
        LEFT JOIN discretionary_grants g ON g.source = 'wallet' AND g.idempotency_key = 'item:' || CAST(w.id AS VARCHAR)
        WHERE w.source = 'hq' AND COALESCE(w.value_minor, w.cap_minor, 0) > 0 AND g.id IS NULL"""),
]

register(*WALLET_CHECKS)
