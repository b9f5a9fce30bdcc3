"""Merchandisers and HQ see tiers by name in their language, never by code: the earning
rules' list and its tier choices, the item form's lowest tier and tier prices, a game's
tiers and a red-packet campaign's tier (tests/factories.py: Gold is 金卡). Stores in the
same selects are named in the reader's language too."""
import re

import pytest

from mall.engagement.rulebook import RuleDraft, save_rule
from mall.extensions import db
from mall.instore.models import Store
from tests.factories import make_user

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}


@pytest.fixture
def desk(client, auth, tiers, clock):
    """A merchandiser and HQ, a store with a Chinese name, and a rule for Gold at that store."""
    make_user(clock.now(), role="merchandiser", login="merch@example.com")
    hq = make_user(clock.now(), role="hq", login="hq@example.com")
    store = Store(code="S12", name="Store 12", name_zh="12号店", region="Xuhui")
    db.session.add(store)
    db.session.flush()
    save_rule(RuleDraft(kind="tier_multiplier", name="Gold boost", value=130, tier_code="gold", store_id=store.id),
              actor_id=hq.id, now=clock.now())
    db.session.commit()
    return tiers, store


def _row(page: str, name: str) -> str:
    return page.split(f"{name}</td>")[1].split("</tr>")[0]


def test_the_earning_rules_list_names_a_rules_tier_and_store_in_the_readers_language(client, auth, desk):
    auth.login("hq@example.com")
    chinese = client.get("/console/earning-rules", headers=ZH).get_data(as_text=True)
    applies_to = _row(chinese, "Gold boost")
    assert "金卡" in applies_to and "Gold" not in applies_to and "12号店" in applies_to
    assert '<option value="gold">金卡</option>' in chinese and "S12 12号店" in chinese
    english = client.get("/console/earning-rules", headers=EN).get_data(as_text=True)
    assert "Gold" in _row(english, "Gold boost") and '<option value="gold">Gold</option>' in english


def test_the_item_form_names_tiers_in_the_readers_language(client, auth, desk):
    tiers, _ = desk
    auth.login("merch@example.com")
    page = client.get("/console/items/new", headers=ZH).get_data(as_text=True)
    assert f'<option value="{tiers["gold"].id}">金卡</option>' in page
    assert re.search(r"<label[^>]*>\s*金卡价格", page) and "Gold price" not in page


def test_a_games_tiers_and_a_red_packet_campaigns_tier_are_offered_by_name(client, auth, desk):
    tiers, store = desk
    auth.login("merch@example.com")
    games = client.get("/console/games", headers=ZH).get_data(as_text=True)
    assert '<option value="gold">金卡</option>' in games and ">Gold<" not in games
    auth.logout()
    auth.login("hq@example.com")
    campaigns = client.get("/hq/red-packets", headers=ZH).get_data(as_text=True)
    assert f'<option value="{tiers["gold"].id}">金卡</option>' in campaigns
    assert f'<option value="{store.id}">12号店</option>' in campaigns
