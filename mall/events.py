"""Domain events: the moments one domain announces and others react to (CONVENTIONS #16).

A lower domain sends a signal instead of importing the domain that cares, so domains import
downwards only. Receivers are connected once at start-up (`create_app` calls each reacting
domain's `receivers.connect()`), and run synchronously, inside the sender's transaction: a
rolled-back sender leaves nothing of theirs behind. A receiver whose effect must wait for
the commit (an email, a call to another system) registers after-commit work instead of
acting at once. Senders never use receivers' return values; every signal is sent with the
sender named below and keyword arguments only.
"""
from blinker import Namespace

_events = Namespace()

purchase_recorded = _events.signal("purchase-recorded", doc="""\
A store purchase was bound to a member and should earn points. Sent by
instore.purchases (receipt claim, POS earn) with sender="instore" and member_id, spend_minor,
minor_per_point, source, key, now, store_id, reference, lines (the receipt lines, net of
refunds: dicts of line_no, sku, name, category, category_name, category_name_zh, quantity,
amount_minor, excluded; they add up to spend_minor). The ledger entry that earns it is
keyed (source, key), and its detail.lines gives each line's points. Received by engagement (earning.purchase_recorded: earns by the rules).""")

first_purchase = _events.signal("first-purchase", doc="""\
A member's first purchase earned points. Sent by engagement.earning with sender="engagement"
and member_id, now, store_id. Received by engagement (tasks: rewards a pending referral) and
games (receivers: a draw in games whose play is earned by a first purchase).""")

order_changed = _events.signal("order-changed", doc="""\
An order's status moved and its timeline got an OrderEvent: placed, held_for_review,
ready_for_pickup, picked_up, cancelled, expired, refunded, payment_failed, review_approved,
review_rejected, presale kinds. Sent by checkout.orders.record (the one timeline writer, also
used by instore pickups, presale and risk reviews) with sender="checkout" and order, kind,
now. Received by notifications (orders: member news for the kinds a member cares about) and wallet
(receivers: a paid order of a coupon item issues the coupons; cancelled, expired, refunded
give a spent coupon back).""")

presale_news = _events.signal("presale-news", doc="""\
Something happened to a member's pre-order (arrived, offer, refunded...). Sent by
presale.services with sender="presale" and order, event, facts, now. Received by
notifications (member news of kind "presale").""")

points_credited = _events.signal("points-credited", doc="""\
Points were credited as a new lot. Sent by points.ledger.credit_points with sender="points"
and entry (the new LedgerEntry), now. Not sent for a replayed key. Received by games
(receivers: a check-in completing a streak earns a draw in games played with draws).""")

points_credited_many = _events.signal("points-credited-many", doc="""\
Points were credited as new lots in one batch (the queued check-ins' credit). Sent by
points.bulk.credit_many with sender="points" and entries (a list of points.bulk.CreditedEntry:
id, member_id, points, source, reason, detail, created_at: each entry's own time), now (the
batch's latest time). Not sent for replayed keys. Received by games (receivers: as
points-credited, a check-in completing a streak earns a draw in games played with draws).""")

pending_cancelled = _events.signal("pending-cancelled", doc="""\
Pending points of a credit were cancelled (a refund inside the return window). Sent by
points.ledger.cancel_pending with sender="points" and earn_entry_id (the credit), cancelled
(points taken out now), remaining_before (the credit's pending points before), now; not sent
for a replayed key. Received by budgets (receivers: the credit's bonus uplift gives back its
share of the budget charge).""")

purchase_refunded = _events.signal("purchase-refunded", doc="""\
A member's store purchase was refunded, all of it or some lines (once per refund). Sent by
instore.purchases.refund_purchase with sender="instore" and member_id, source and key (those
of the purchase's earn, as in purchase-recorded), full (nothing of the purchase is kept), now.
Received by engagement (earning.purchase_refunded: the purchase's bonus held over budget, or
approved and still pending, is forfeited).""")

points_expired = _events.signal("points-expired", doc="""\
Lots expired. Sent by points.ledger with sender="points" and member_id, entries (the expiry
LedgerEntry lines), now. No receiver yet.""")

tier_changed = _events.signal("tier-changed", doc="""\
A member's held tier changed (upgrade, downgrade or renewal). Sent by points.tiers with
sender="points" and change (the TierChange row), from_tier, to_tier, now. Received by
notifications (member news, not for renewals).""")

budget_threshold_crossed = _events.signal("budget-threshold-crossed", doc="""\
A monthly budget for discretionary points (a store's, or a programme budget's) passed a
threshold. Sent by budgets.services with sender="budgets" and kind ("budget_80",
"budget_100"), store_id and programme_budget_id (one of them None), month, facts (a programme
budget's name in facts["budget"]), now; once per kind, budget and month for the charge
thresholds. Received by hq (alerts: one HqAlert per kind, budget and month, emailed later by
the alerts job).""")

wallet_value_issued = _events.signal("wallet-value-issued", doc="""\
A coupon or red packet was put in a member's wallet and its face value is to be charged to
a budget (HQ issues, budgeted campaigns). Sent by wallet.issue with sender="wallet" and
item_id, account_id, points (the face value in points), store_id (a store's budget) or
target (the programme budget ("campaign", target)), reason, name, expires_at, actor_id, now;
inside the issue's savepoint. Received by budgets (receivers: charges and records the grant,
source "wallet", key "item:<id>"; raises a DomainError when the budget can't cover it, which
refuses the issue).""")
