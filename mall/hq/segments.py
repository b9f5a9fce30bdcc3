"""RFM segments and ROI per earning rule or campaign: snapshots refreshed by `mall jobs`
(or HQ's "Recompute now"), because they scan a year of ledger and need not be per-second.

RFM (recency, frequency, monetary) over the last 365 days of purchase earns (earn entries
with qualifying spend):
- loyal:     bought within 60 days, 6 or more purchases, and ¥2,000 or more spent;
- potential: bought within 30 days but not (yet) loyal;
- dormant:   no purchase for more than 90 days, or never;
- ordinary:  everyone else (last bought 31 to 90 days ago, not loyal).
Thresholds are settings (MALL_RFM_*).

ROI per rule (the campaign code an earn names, else its reason), over the last 365 days:
- cost: the points the rule added x the point value: for a purchase earn that names a
  campaign, only its uplift (detail.bonus_points), since the base points would have been
  earned without the rule (they are the programme's cost of sales); for any other earn
  (a check-in, a grant, a plain purchase) the whole earn;
- direct sales: the qualifying spend of the earns made under the rule (a purchase bonus
  counts its purchase; a check-in has none);
- repeat sales: purchases made by the rule's members after their first redemption in the
  window (the programme's promise: redeeming brings them back);
- ROI = (direct + repeat - cost) / cost. A member in several rules counts for each, so the
  rules' sales overlap: compare rules with each other, don't add them up.
"""
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, insert, literal, select
from sqlalchemy.orm import aliased

from ..accounts.models import Role, User
from ..engagement.models import SEGMENTS, MemberSegment
from ..extensions import db
from ..pagination import page_bounds
from ..points.models import LedgerEntry
from ..settings import current as current_settings
from .analytics import _rule_expr, point_value_minor
from .models import RuleRoi


def refresh_segments(now: datetime) -> dict:
    """Recompute every member's segment. Returns the counts per segment."""
    rfm = current_settings().rfm
    since = now - timedelta(days=365)
    agg = (select(LedgerEntry.member_id.label("member_id"), func.max(LedgerEntry.created_at).label("last"),
                  func.count().label("n"), func.sum(LedgerEntry.spend_minor).label("m"))
           .where(LedgerEntry.kind == "earn", LedgerEntry.spend_minor > 0, LedgerEntry.created_at >= since)
           .group_by(LedgerEntry.member_id).subquery())
    n, m, last = func.coalesce(agg.c.n, 0), func.coalesce(agg.c.m, 0), agg.c.last
    segment = case(
        (last.is_(None), "dormant"),
        (last < now - timedelta(days=rfm.dormant_days), "dormant"),
        ((last >= now - timedelta(days=rfm.loyal_days)) & (n >= rfm.loyal_purchases)
         & (m >= rfm.loyal_spend_minor), "loyal"),
        (last >= now - timedelta(days=rfm.potential_days), "potential"),
        else_="ordinary")
    rows = (select(User.id, segment, last, n, m, literal(now, MemberSegment.computed_at.type))
            .outerjoin(agg, agg.c.member_id == User.id).where(User.role == Role.MEMBER.value))
    db.session.execute(delete(MemberSegment))
    db.session.execute(insert(MemberSegment).from_select(
        ["member_id", "segment", "last_purchase_at", "purchases", "spend_minor", "computed_at"], rows))
    db.session.flush()
    return segment_counts()


def segment_counts() -> dict:
    counts = dict(db.session.execute(select(MemberSegment.segment, func.count()).group_by(MemberSegment.segment)).all())
    return {s: counts.get(s, 0) for s in SEGMENTS}


def segments_computed_at() -> datetime | None:
    return db.session.scalar(select(func.max(MemberSegment.computed_at)))


def segment_members(segment: str, page: int = 1, per_page: int = 50):
    query = select(MemberSegment, User).join(User, User.id == MemberSegment.member_id) \
        .where(MemberSegment.segment == segment)
    total = db.session.scalar(select(func.count()).select_from(MemberSegment).where(MemberSegment.segment == segment))
    page, pages = page_bounds(total, page, per_page)  # counted without the join to users
    rows = db.session.execute(query.order_by(MemberSegment.spend_minor.desc(), MemberSegment.member_id.desc())
                              .offset((page - 1) * per_page).limit(per_page)).all()
    return rows, page, pages, total


def refresh_roi(now: datetime, days: int = 365) -> int:
    since = now - timedelta(days=days)
    rule = _rule_expr()
    # A rule is charged only what it added: a campaign's purchase earn counts its uplift.
    charged = case(((LedgerEntry.reason == "purchase") & LedgerEntry.detail["campaign"].as_string().is_not(None),
                    func.coalesce(LedgerEntry.detail["bonus_points"].as_integer(), 0)),
                   else_=LedgerEntry.points)
    base = db.session.execute(
        select(rule, func.sum(charged), func.count(LedgerEntry.member_id.distinct()),
               func.sum(LedgerEntry.spend_minor))
        .where(LedgerEntry.kind == "earn", LedgerEntry.created_at >= since).group_by(rule)).all()
    rule_members = (select(rule.label("rule"), LedgerEntry.member_id.label("member_id"))
                    .where(LedgerEntry.kind == "earn", LedgerEntry.created_at >= since).distinct().subquery())
    first_redeem = (select(LedgerEntry.member_id.label("member_id"), func.min(LedgerEntry.created_at).label("t"))
                    .where(LedgerEntry.kind == "spend", LedgerEntry.created_at >= since)
                    .group_by(LedgerEntry.member_id).subquery())
    later = aliased(LedgerEntry)
    repeat = (select(first_redeem.c.member_id, func.sum(later.spend_minor).label("sales"))
              .join(later, later.member_id == first_redeem.c.member_id)
              .where(later.kind == "earn", later.spend_minor > 0, later.created_at > first_redeem.c.t)
              .group_by(first_redeem.c.member_id).subquery())
    repeats = dict(db.session.execute(
        select(rule_members.c.rule, func.sum(repeat.c.sales))
        .join(repeat, repeat.c.member_id == rule_members.c.member_id).group_by(rule_members.c.rule)).all())
    db.session.execute(delete(RuleRoi))
    for code, points, members, direct in base:
        db.session.add(RuleRoi(rule=code, points=int(points), members=int(members), direct_sales_minor=int(direct or 0),
                               repeat_sales_minor=int(repeats.get(code) or 0), computed_at=now))
    db.session.flush()
    return len(base)


def roi_table() -> list[dict]:
    rows = []
    for r in db.session.scalars(select(RuleRoi).order_by(RuleRoi.points.desc())):
        cost = point_value_minor(r.points)
        attributed = r.direct_sales_minor + r.repeat_sales_minor
        rows.append({"rule": r.rule, "points": r.points, "members": r.members, "cost_minor": cost,
                     "direct_minor": r.direct_sales_minor, "repeat_minor": r.repeat_sales_minor,
                     "roi_pct": round((attributed - cost) * 100 / cost, 1) if cost else None,
                     "computed_at": r.computed_at})
    return rows


def refresh_all(now: datetime) -> None:
    refresh_segments(now)
    refresh_roi(now)
