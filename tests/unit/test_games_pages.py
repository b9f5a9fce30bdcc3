"""Games through the pages (SQLite): a merchandiser sets a game up in the console, a member
sees the odds and plays (HTMX fragment, double tap = one play), the public rules page lists
everything with the commitment and later the seed, and HQ's report puts realised
frequencies beside the published odds. Both languages."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mall.extensions import db
from mall.games.models import Game, GamePlay
from tests.factories import PASSWORD, give_points, make_user
from tests.games_world import make_game


def _login(client, login):
    assert client.post("/login", data={"identifier": login, "password": PASSWORD}).status_code == 302


def _key(page: str) -> str:
    """The play form's key, as the page gave it."""
    return re.search(r'name="key" type="hidden" value="([0-9a-f]+)"|value="([0-9a-f]{32})"', page).group(0) \
        .split('value="')[1].rstrip('"')


@pytest.fixture
def member(tiers, clock):
    user = make_user(clock.now(), login="gm@example.com")
    give_points(user.id, 5000, clock.now())
    db.session.commit()
    return user


def test_a_merchandiser_sets_up_and_opens_a_game_in_the_console(client, tiers, clock, app):
    make_user(clock.now(), role="merchandiser", login="gmerch@example.com")
    db.session.commit()
    _login(client, "gmerch@example.com")
    local = clock.now() + timedelta(hours=8)
    form = {"name": "Wheel", "name_zh": "转盘", "kind": "wheel", "cost_kind": "points", "cost_points": "30",
            "starts_at": (local - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (local + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"), "daily_limit": "3",
            "total_limit": "10", "budget_points": "5000", "tiers": ["silver", "gold"], "pity_after": "5"}
    refused = client.post("/console/games", data={**form, "ends_at": form["starts_at"]})
    assert refused.status_code == 200 and "The game must end after it starts." in refused.get_data(as_text=True)
    response = client.post("/console/games", data=form)
    assert response.status_code == 302
    game = db.session.scalar(select(Game))
    assert game.status == "draft" and game.tiers == ["silver", "gold"] and game.cost_points == 30
    url = f"/console/games/{game.id}"
    assert client.post(url, data={"kind": "points", "label": "100 points", "points": "100", "weight": "10",
                                  "stock": "5", "item_id": "0"}).status_code == 302
    # Opening needs a prize that costs nothing.
    client.post(f"{url}/open")
    assert db.session.get(Game, game.id).status == "draft"
    assert client.post(url, data={"kind": "nothing", "label": "Thanks", "weight": "90", "item_id": "0"}).status_code == 302
    client.post(f"{url}/open")
    db.session.expire_all()
    page = client.get(url).get_data(as_text=True)
    assert db.session.get(Game, game.id).status == "open" and game.commitment in page
    assert "10.00%" in page and "90.00%" in page


def test_a_member_sees_the_odds_then_plays_and_a_double_tap_is_one_play(client, member, clock):
    game = make_game(clock.now())
    db.session.commit()
    _login(client, "gm@example.com")
    page = client.get(f"/games/{game.id}").get_data(as_text=True)
    assert "1.00%" in page and "20.00%" in page and "79.00%" in page and "Unlimited" in page
    assert ">10<" in page  # 10 top prizes left
    key = _key(page)
    first = client.post(f"/games/{game.id}/play", data={"key": key}, headers={"HX-Request": "true"})
    second = client.post(f"/games/{game.id}/play", data={"key": key}, headers={"HX-Request": "true"})
    assert first.status_code == second.status_code == 200
    body = second.get_data(as_text=True)
    assert "game-anim" in body and "a second tap doesn’t play again" in body
    assert db.session.scalar(select(func.count(GamePlay.id))) == 1
    history = client.get("/games/plays").get_data(as_text=True)
    play = db.session.scalar(select(GamePlay))
    assert play.digest in history and f"{game.id}:{member.id}:1" in history


def test_pages_in_chinese(client, member, clock):
    game = make_game(clock.now())
    db.session.commit()
    _login(client, "gm@example.com")
    client.post("/locale", data={"locale": "zh_Hans", "next": "/"})
    page = client.get(f"/games/{game.id}").get_data(as_text=True)
    assert "奖品与概率" in page and "幸运盲盒" in page and "开盲盒" in page
    assert "规则" in client.get(f"/games/{game.id}/rules").get_data(as_text=True)


def test_the_public_rules_page_shows_the_commitment_then_the_seed(client, tiers, clock):
    from mall.games import management
    game = make_game(clock.now(), pity_after=4)
    db.session.commit()
    page = client.get(f"/games/{game.id}/rules").get_data(as_text=True)
    assert game.commitment in page and game.seed_hex not in page and "After 4 plays in a row" in page
    management.close_game(game.id, actor_id=None, now=clock.now())
    db.session.commit()
    assert game.seed_hex in client.get(f"/games/{game.id}/rules").get_data(as_text=True)
    draft = make_game(clock.now(), open_it=False)
    db.session.commit()
    assert client.get(f"/games/{draft.id}/rules").status_code == 404


def test_hq_reads_the_report_with_frequencies_beside_the_odds(client, member, clock):
    from mall.games.play import play
    game = make_game(clock.now())
    db.session.commit()
    for n in range(40):
        play(game.id, member.id, key=f"r{n}", now=clock.now())
    db.session.commit()
    make_user(clock.now(), role="hq", login="ghq@example.com")
    db.session.commit()
    _login(client, "ghq@example.com")
    assert "Lucky box" in client.get("/hq/games").get_data(as_text=True)
    page = client.get(f"/hq/games/{game.id}").get_data(as_text=True)
    assert "Chi-square" in page and "79.00%" in page and ">40<" in page and "400" in page  # 40 plays, 400 points
