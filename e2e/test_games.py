"""A points blind box on a phone (issue 14): the silver demo member reads the odds and the
stock before playing, opens a box (a double tap is one play), sees the prize at once, and
finds the play and the prize in the points statement, naming the game. With reduced motion
asked for, no animation runs."""
import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

SILVER = "silver@example.com"
GAME = "Lucky blind box"


def test_play_a_blind_box_with_points_and_find_the_prize_in_the_statement(page: Page, log_in, shot, live_server):
    page.emulate_media(reduced_motion="reduce")
    log_in(SILVER)
    page.get_by_role("link", name="Play a game").click()
    expect(page.get_by_role("heading", name="Games", level=1)).to_be_visible()
    page.get_by_role("link", name=re.compile(GAME)).click()

    # The odds and what is left, before playing.
    odds = page.get_by_role("table", name="Prizes and their chances")
    expect(odds.get_by_role("row", name=re.compile(r"500 points\s+2\.00%"))).to_be_visible()
    expect(odds.get_by_role("row", name=re.compile(r"Thanks for playing\s+40\.00%.*Unlimited"))).to_be_visible()
    expect(page.get_by_text("20 points a play.")).to_be_visible()
    shot(page, "blind-box-odds")

    # Play until a points prize comes up (60% of boxes hold points); the first play is a double tap.
    won = None
    for n in range(1, 9):
        button = page.get_by_role("button", name="Open a box")
        if n == 1:
            button.dblclick()
        else:
            button.click()
        result = page.locator("#play").get_by_role("status")
        expect(result).to_contain_text(re.compile(r"You won|Thanks for playing"))
        expect(page.locator(".game-anim")).to_be_hidden()  # reduced motion: no animation
        expect(result).to_contain_text(f"Play {n} ·")  # the double tap made one play
        text = result.inner_text()
        shot(page, f"blind-box-play-{n}")
        match = re.search(r"You won: (\d+) points", text)
        if match:
            won = (n, match.group(1))
            break
        page.get_by_role("link", name="Play again").click()
    assert won, "no points prize in 8 plays (60% each)"

    # The statement names the game for the play and for the prize.
    page.goto(f"{live_server}/points/statement")
    expect(page.get_by_text(f"Played {GAME} (play {won[0]})").first).to_be_visible()
    expect(page.get_by_text(f"Prize from {GAME} (play {won[0]}): {won[1]} points").first).to_be_visible()
    shot(page, "statement-with-prize")

    # The member's plays show what checks each draw; the seed is still secret.
    page.goto(f"{live_server}/games/plays")
    expect(page.get_by_text("revealed when the game closes").first).to_be_visible()
