from mall.catalog.services import browse, item_card
from mall.extensions import db
from mall.points.tiers import status_for_spend, all_tiers
from tests.factories import make_item


def _status(spend_minor):
    return status_for_spend(spend_minor, all_tiers())


def test_each_tier_pays_its_own_price_and_others_pay_the_list_price(tiers, clock):
    item = make_item(clock.now(), points=2000, tier_prices={tiers["gold"]: 1800, tiers["diamond"]: 1500})
    assert item_card(item.id, _status(0), 0).price == 2000
    assert item_card(item.id, _status(500_000), 0).price == 1800
    diamond = item_card(item.id, _status(2_000_000), 0)
    assert diamond.price == 1500 and diamond.discounted


def test_an_item_above_the_members_tier_is_locked_with_the_spend_that_unlocks_it(tiers, clock):
    item = make_item(clock.now(), points=900, min_tier=tiers["gold"])
    card = item_card(item.id, _status(380_000), 10_000)
    assert card.locked and not card.affordable
    assert card.unlock_tier.code == "gold"
    assert card.spend_to_unlock == 120_000
    assert card.unlock_progress == 76
    assert not item_card(item.id, _status(500_000), 10_000).locked


def test_stock_states(tiers, clock):
    plenty = make_item(clock.now(), stock=20)
    few = make_item(clock.now(), stock=3)
    none = make_item(clock.now(), stock=0)
    states = {i.id: item_card(i.id, _status(0), 0).stock_state for i in (plenty, few, none)}
    assert states == {plenty.id: "in_stock", few.id: "low", none.id: "sold_out"}


def test_affordable_filter_keeps_only_unlocked_in_stock_items_within_the_balance(tiers, clock):
    cheap = make_item(clock.now(), points=500)
    make_item(clock.now(), points=5000)                        # too dear
    make_item(clock.now(), points=100, stock=0)                # sold out
    make_item(clock.now(), points=100, min_tier=tiers["gold"])  # locked
    gold_price = make_item(clock.now(), points=3000, tier_prices={tiers["gold"]: 900})
    db.session.commit()
    silver = browse(_status(0), 1000, affordable_only=True)
    assert [c.item.id for c in silver.cards] == [cheap.id]
    gold = browse(_status(500_000), 1000, affordable_only=True)
    assert {c.item.id for c in gold.cards} >= {cheap.id, gold_price.id}


def test_pages_of_the_catalogue_do_not_overlap(tiers, clock):
    ids = [make_item(clock.now()).id for _ in range(7)]
    first = browse(_status(0), 0, page=1, per_page=4)
    second = browse(_status(0), 0, page=2, per_page=4)
    assert first.has_more and not second.has_more
    assert [c.item.id for c in first.cards + second.cards] == ids


def test_unpublished_items_are_not_listed(tiers, clock):
    make_item(clock.now(), published=False)
    assert browse(_status(0), 0).total == 0
