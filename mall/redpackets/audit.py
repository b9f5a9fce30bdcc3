"""Checks of the red-packet invariants over the whole database, registered with `mall audit`
(mall/audit.py). Each query returns the offending rows."""
from ..audit import Check, register

REDPACKET_CHECKS = [
    Check("each red-packet campaign's claims plus what remains equal its total (value and count)", """
        SELECT c.id, c.total_minor, c.remaining_minor, COALESCE(SUM(k.amount_minor), 0) AS claimed,
               c.packet_count, c.remaining_count, COUNT(k.id) AS claims
        FROM red_packet_campaigns c LEFT JOIN red_packet_claims k ON k.campaign_id = c.id
        GROUP BY c.id, c.total_minor, c.remaining_minor, c.packet_count, c.remaining_count
        HAVING COALESCE(SUM(k.amount_minor), 0) + c.remaining_minor <> c.total_minor
            OR COUNT(k.id) + c.remaining_count <> c.packet_count"""),
    Check("no member holds more claims on a red-packet campaign than its limit per member", """
        SELECT k.campaign_id, k.account_id, COUNT(*) AS claims, c.limit_per_member
        FROM red_packet_claims k JOIN red_packet_campaigns c ON c.id = k.campaign_id
        GROUP BY k.campaign_id, k.account_id, c.limit_per_member
        HAVING COUNT(*) > c.limit_per_member OR MAX(k.n) > c.limit_per_member"""),
    Check("each red-packet claim has its wallet red packet, of the same value and member", """
        SELECT k.id, k.wallet_item_id, k.amount_minor, w.value_minor, k.account_id, w.account_id
        FROM red_packet_claims k LEFT JOIN wallet_items w ON w.id = k.wallet_item_id
        WHERE w.id IS NULL OR w.kind <> 'red_packet' OR w.value_minor <> k.amount_minor
           OR w.account_id <> k.account_id"""),
    Check("each wallet red packet issued by a campaign claim belongs to a claim", """
        SELECT w.id, w.source_ref FROM wallet_items w
        LEFT JOIN red_packet_claims k ON k.wallet_item_id = w.id
        WHERE w.kind = 'red_packet' AND w.source = 'campaign' AND k.id IS NULL"""),
]

register(*REDPACKET_CHECKS)
