"""Appeals: a member questions a statement line or an order; HQ answers within one working
day, by an adjustment (a ledger entry naming the appeal, charged to the appeals budget) or a
reply, and the member is told."""
