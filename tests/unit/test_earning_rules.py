"""Earning rules as a merchandiser reads them: one row per case, the rules in force, the
purchase, and the points with their explanation. The stacking rule is in docs/points.md
("Earning rules: how they stack") and mall/engagement/rules.py."""
from datetime import datetime, timedelta, timezone

import pytest

from mall.engagement.rulebook import RuleDraft, retire_rule, save_rule
from mall.engagement.preview import preview_purchase
from mall.extensions import db
from mall.engagement.earning import earn_for_purchase
from mall.points.explain import explain
from mall.points.models import LedgerEntry
from tests.factories import make_user

# 2026-06-03 is a Wednesday; 12:00 in Shanghai is 04:00 UTC.
WEDNESDAY = datetime(2026, 6, 3, 4, 0, tzinfo=timezone.utc)
THURSDAY = WEDNESDAY + timedelta(days=1)
SATURDAY = WEDNESDAY + timedelta(days=3)

RULES = {
    "fresh day ×2": dict(kind="time_slot", name="fresh day", name_zh="生鲜日", value=200, weekdays=(3,),
                         category_slug="fresh"),
    "weekend ×1.5": dict(kind="time_slot", name="weekend", name_zh="周末", value=150, weekdays=(6, 7)),
    "campaign ×1.5": dict(kind="campaign", name="summer", name_zh="夏日", value=150,
                          starts_at=WEDNESDAY - timedelta(days=1), ends_at=WEDNESDAY + timedelta(days=10)),
    "new category +30%": dict(kind="category_bonus", name="new category", name_zh="新品类", value=30,
                              category_slug="beauty"),
    "first purchase +100": dict(kind="first_purchase", name="first purchase", name_zh="首购", value=100),
    "cap ×2": dict(kind="cap", name="cap", name_zh="上限", value=200),
    "gold ×1.3": dict(kind="tier_multiplier", name="gold", value=130, tier_code="gold"),
    "Store 12 base ¥2 = 1 point": dict(kind="base_rate", name="store 12 rate", value=200, store_id="S12"),
    "Store 12 fresh day ×3": dict(kind="time_slot", name="S12 fresh day", value=300, weekdays=(3,),
                                  category_slug="fresh", store_id="S12"),
}

#  rules in force                       | tier    | spend  | category | when      | store | first | points | explanation
CASES = [
    ((),                                   "silver", 20_000, "fresh",  WEDNESDAY, None,  False, 200,  "base 200 × Silver tier 1 = 200"),
    ((),                                   "gold",   20_000, "fresh",  WEDNESDAY, None,  False, 240,  "base 200 × Gold tier 1.2 = 240"),
    (("fresh day ×2",),                    "gold",   20_000, "fresh",  WEDNESDAY, None,  False, 480,  "base 200 × Gold tier 1.2 × fresh day 2 = 480"),
    (("fresh day ×2",),                    "gold",   20_000, "fresh",  THURSDAY,  None,  False, 240,  "base 200 × Gold tier 1.2 = 240"),
    (("fresh day ×2",),                    "gold",   20_000, "home",   WEDNESDAY, None,  False, 240,  "base 200 × Gold tier 1.2 = 240"),
    (("weekend ×1.5",),                    "silver", 20_000, "home",   SATURDAY,  None,  False, 300,  "base 200 × Silver tier 1 × weekend 1.5 = 300"),
    # promotions never compound: the best one wins
    (("fresh day ×2", "campaign ×1.5"),    "gold",   20_000, "fresh",  WEDNESDAY, None,  False, 480,  "base 200 × Gold tier 1.2 × fresh day 2 = 480"),
    (("fresh day ×2", "campaign ×1.5"),    "gold",   20_000, "fresh",  THURSDAY,  None,  False, 360,  "base 200 × Gold tier 1.2 × summer 1.5 = 360"),
    # a category bonus adds a percentage of the base, untouched by tier and promotion
    (("new category +30%",),               "gold",   20_000, "beauty", WEDNESDAY, None,  False, 300,  "base 200 × Gold tier 1.2 + new category 30% (60) = 300"),
    (("campaign ×1.5", "new category +30%"), "gold", 20_000, "beauty", WEDNESDAY, None,  False, 420,  "base 200 × Gold tier 1.2 × summer 1.5 + new category 30% (60) = 420"),
    # the cap limits multiplied + added points to a multiple of the base
    (("fresh day ×2", "cap ×2"),           "gold",   20_000, "fresh",  WEDNESDAY, None,  False, 400,  "base 200 × Gold tier 1.2 × fresh day 2 capped at 2 × base (400) = 400"),
    # the first-purchase bonus is added last, outside the cap
    (("fresh day ×2", "cap ×2", "first purchase +100"), "gold", 20_000, "fresh", WEDNESDAY, None, True, 500,
     "base 200 × Gold tier 1.2 × fresh day 2 capped at 2 × base (400) + first purchase 100 = 500"),
    (("first purchase +100",),             "silver", 20_000, "home",   WEDNESDAY, None,  False, 200,  "base 200 × Silver tier 1 = 200"),
    # a tier-multiplier rule replaces the tier's own multiplier
    (("gold ×1.3",),                       "gold",   20_000, "home",   WEDNESDAY, None,  False, 260,  "base 200 × Gold tier 1.3 = 260"),
    # per-store overrides replace the general rule at that store only
    (("Store 12 base ¥2 = 1 point",),      "gold",   20_000, "home",   WEDNESDAY, "S12", False, 120,  "base 100 × Gold tier 1.2 = 120"),
    (("Store 12 base ¥2 = 1 point",),      "gold",   20_000, "home",   WEDNESDAY, None,  False, 240,  "base 200 × Gold tier 1.2 = 240"),
    (("fresh day ×2", "Store 12 fresh day ×3"), "gold", 20_000, "fresh", WEDNESDAY, "S12", False, 720, "base 200 × Gold tier 1.2 × S12 fresh day 3 = 720"),
    # fractions are dropped, never rounded up
    (("weekend ×1.5",),                    "gold",   19_999, "home",   SATURDAY,  None,  False, 358,  "base 199 × Gold tier 1.2 × weekend 1.5 = 358"),
]


@pytest.fixture
def store12(app):
    from mall.instore.models import Store
    store = Store(code="S12", name="Store 12", name_zh="12号店", region="Xuhui")
    db.session.add(store)
    db.session.flush()
    return store


def _install(names, store, now):
    for name in names:
        fields = dict(RULES[name])
        if fields.get("store_id") == "S12":
            fields["store_id"] = store.id
        save_rule(RuleDraft(**fields), actor_id=None, now=now - timedelta(days=30))


@pytest.mark.parametrize("rules, tier, spend, category, when, store, first, points, explanation", CASES,
                         ids=[f"{'+'.join(c[0]) or 'no rules'} | {c[1]} {c[2] // 100} {c[3]} {c[4]:%a}"
                              f"{' S12' if c[5] else ''}{' first' if c[6] else ''}" for c in CASES])
def test_preview_follows_the_stacking_rule(tiers, store12, rules, tier, spend, category, when, store, first,
                                           points, explanation):
    from mall.points.explain import formula
    _install(rules, store12, when)
    result = preview_purchase(tier_code=tier, spend_minor=spend, at=when, category=category,
                              store_id=store12.id if store else None, first_purchase=first)
    assert result.earning.points == points
    assert f"{formula(result.detail)} = {result.earning.points}" == explanation


def test_a_real_earn_matches_the_preview_and_its_statement_line_explains_it(tiers, store12, clock):
    _install(["fresh day ×2"], store12, WEDNESDAY)
    member = make_user(WEDNESDAY)
    earn_for_purchase(member.id, 500_000, minor_per_point=100, source="pos", key="r0", now=WEDNESDAY)  # -> Gold
    preview = preview_purchase(tier_code="gold", spend_minor=20_000, at=WEDNESDAY, category="fresh",
                               store_id=store12.id, first_purchase=False)
    entry = earn_for_purchase(member.id, 20_000, minor_per_point=100, source="pos", key="r1", now=WEDNESDAY,
                              store_id=store12.id, category="fresh", reference="R12")
    assert entry.points == preview.earning.points == 480
    assert explain(entry) == ("Purchase of ¥200 (receipt R12): base 200 × Gold tier 1.2 × fresh day 2 "
                              "= 480 points")
    assert entry.detail["rules_version"] == preview.rules_version
    assert entry.detail["bonus_points"] == 240  # beyond base × tier: HQ counts these as discretionary
    assert (entry.detail["campaign"], entry.detail["category"]) == ("fresh day", "fresh")  # HQ's cost by rule


def test_editing_or_retiring_a_rule_never_changes_a_past_explanation(tiers, store12, clock):
    rule = save_rule(RuleDraft(**RULES["fresh day ×2"]), actor_id=None, now=WEDNESDAY - timedelta(days=1))
    member = make_user(WEDNESDAY)
    entry = earn_for_purchase(member.id, 20_000, minor_per_point=100, source="pos", key="r1", now=WEDNESDAY,
                              category="fresh", reference="R1")
    db.session.commit()
    before = explain(entry)
    version_used = entry.detail["rules_version"]

    edited = save_rule(RuleDraft(**{**RULES["fresh day ×2"], "name": "veggie day", "value": 300}),
                       actor_id=None, now=WEDNESDAY + timedelta(hours=1), rule_key=rule.rule_key)
    assert edited.version == 2
    db.session.commit()
    db.session.expire_all()
    assert explain(db.session.get(LedgerEntry, entry.id)) == before == (
        "Purchase of ¥200 (receipt R1): base 200 × Silver tier 1 × fresh day 2 = 400 points")

    later = earn_for_purchase(member.id, 20_000, minor_per_point=100, source="pos", key="r2",
                              now=WEDNESDAY + timedelta(hours=2), category="fresh", reference="R2")
    assert later.points == 600 and "veggie day 3" in explain(later)
    assert later.detail["rules_version"] > version_used

    retire_rule(rule.rule_key, actor_id=None, now=WEDNESDAY + timedelta(hours=3))
    third = earn_for_purchase(member.id, 20_000, minor_per_point=100, source="pos", key="r3",
                              now=WEDNESDAY + timedelta(hours=4), category="fresh")
    assert third.points == 200
    assert explain(db.session.get(LedgerEntry, entry.id)) == before


def test_a_replayed_purchase_earns_once_even_after_a_rule_edit(tiers, store12, clock):
    member = make_user(WEDNESDAY)
    first = earn_for_purchase(member.id, 20_000, minor_per_point=100, source="pos", key="same", now=WEDNESDAY)
    _install(["weekend ×1.5", "campaign ×1.5"], store12, WEDNESDAY)
    again = earn_for_purchase(member.id, 20_000, minor_per_point=100, source="pos", key="same", now=WEDNESDAY)
    assert again.id == first.id and again.points == 200


def test_rules_outside_their_window_do_not_apply(tiers, store12):
    _install(["campaign ×1.5"], store12, WEDNESDAY)
    after = WEDNESDAY + timedelta(days=11)
    result = preview_purchase(tier_code="silver", spend_minor=20_000, at=after, category=None, store_id=None,
                              first_purchase=False)
    assert result.earning.points == 200


@pytest.mark.parametrize("draft, field", [
    (dict(kind="time_slot", name="x", value=200), "weekdays"),
    (dict(kind="category_bonus", name="x", value=30), "category_slug"),
    (dict(kind="tier_multiplier", name="x", value=120), "tier_code"),
    (dict(kind="campaign", name="x", value=150), "ends_at"),
    (dict(kind="time_slot", name="x", value=50, weekdays=(1,)), "value"),
    (dict(kind="campaign", name="x", value=150, starts_at=WEDNESDAY, ends_at=WEDNESDAY), "ends_at"),
])
def test_an_incomplete_rule_is_refused_next_to_the_field(tiers, draft, field):
    from mall.engagement.rulebook import InvalidRule
    with pytest.raises(InvalidRule) as refused:
        save_rule(RuleDraft(**draft), actor_id=None, now=WEDNESDAY)
    assert refused.value.field == field


# --- rules for a member segment (RFM, computed by HQ's segment refresh) ------------------

LOYAL_CAMPAIGN = dict(kind="campaign", name="loyal thanks", name_zh="忠诚回馈", value=200, segment="loyal",
                      starts_at=WEDNESDAY - timedelta(days=1), ends_at=WEDNESDAY + timedelta(days=10))


@pytest.mark.parametrize("segment, points, explanation", [
    ("loyal", 400, "base 200 × Silver tier 1 × loyal thanks 2 = 400"),
    ("dormant", 200, "base 200 × Silver tier 1 = 200"),
    (None, 200, "base 200 × Silver tier 1 = 200"),
], ids=["a loyal member", "a dormant member", "a member in no segment yet"])
def test_a_segment_rule_applies_only_to_members_in_that_segment(tiers, store12, segment, points, explanation):
    from mall.points.explain import formula
    save_rule(RuleDraft(**LOYAL_CAMPAIGN), actor_id=None, now=WEDNESDAY - timedelta(days=2))
    result = preview_purchase(tier_code="silver", spend_minor=20_000, at=WEDNESDAY, category="home", store_id=None,
                              first_purchase=False, segment=segment)
    assert f"{formula(result.detail)} = {result.earning.points}" == explanation


def test_a_real_earn_reads_the_members_segment_as_hq_last_computed_it(tiers, store12, clock):
    from mall.engagement.models import MemberSegment
    save_rule(RuleDraft(**LOYAL_CAMPAIGN), actor_id=None, now=WEDNESDAY - timedelta(days=2))
    loyal, other = make_user(WEDNESDAY, login="loyal@example.com"), make_user(WEDNESDAY, login="other@example.com")
    db.session.add_all([MemberSegment(member_id=loyal.id, segment="loyal", computed_at=WEDNESDAY),
                        MemberSegment(member_id=other.id, segment="potential", computed_at=WEDNESDAY)])
    db.session.flush()
    earned = earn_for_purchase(loyal.id, 20_000, minor_per_point=100, source="pos", key="l1", now=WEDNESDAY,
                               reference="L1")
    plain = earn_for_purchase(other.id, 20_000, minor_per_point=100, source="pos", key="o1", now=WEDNESDAY)
    assert (earned.points, plain.points) == (400, 200)
    assert explain(earned) == "Purchase of ¥200 (receipt L1): base 200 × Silver tier 1 × loyal thanks 2 = 400 points"
    assert earned.detail["campaign"] == "loyal thanks"  # HQ's cost by rule


def test_hq_refreshing_segments_moves_a_member_into_a_segment_rule(tiers, store12, clock):
    from mall.engagement.segments import segment_of
    from mall.hq.segments import refresh_segments
    member = make_user(WEDNESDAY)
    assert segment_of(member.id) is None
    earn_for_purchase(member.id, 20_000, minor_per_point=100, source="pos", key="p1", now=WEDNESDAY)
    refresh_segments(WEDNESDAY + timedelta(days=1))
    assert segment_of(member.id) == "potential"  # bought within 30 days, not (yet) loyal


def test_a_rule_for_an_unknown_segment_is_refused_and_a_new_version_keeps_the_segment(tiers):
    from mall.engagement.rulebook import InvalidRule
    with pytest.raises(InvalidRule) as refused:
        save_rule(RuleDraft(**{**LOYAL_CAMPAIGN, "segment": "vip"}), actor_id=None, now=WEDNESDAY)
    assert refused.value.field == "segment"
    rule = save_rule(RuleDraft(**LOYAL_CAMPAIGN), actor_id=None, now=WEDNESDAY)
    retired = retire_rule(rule.rule_key, actor_id=None, now=WEDNESDAY + timedelta(hours=1))
    assert (retired.version, retired.segment) == (2, "loyal")
