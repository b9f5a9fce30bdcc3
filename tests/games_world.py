"""A game set up through the games services, for the unit, PostgreSQL and page tests."""
from datetime import timedelta

from mall.games import management
from mall.games.management import GameData, PrizeData
from tests.factories import make_user

TOP, SMALL, THANKS = "Top prize", "Small prize", "Thanks for playing"


def make_game(now, *, prizes=None, cost_points=10, budget=100_000, daily_limit=100, total_limit=1000,
              pity_after=None, open_it=True, kind="blind_box", actor_id=None, **extra):
    """A points game with (by default) 1,000 points (weight 1, stock 10), 50 points
    (weight 20) and thanks for playing (weight 79). Prizes: (kind, label, weight, stock, points)."""
    if actor_id is None:
        actor_id = make_user(now, role="merchandiser").id
    data = GameData(name="Lucky box", name_zh="幸运盲盒", kind=kind, starts_at=now - timedelta(hours=1),
                    ends_at=now + timedelta(days=7), cost_kind=extra.pop("cost_kind", "points"),
                    cost_points=cost_points, budget_points=budget, daily_limit=daily_limit, total_limit=total_limit,
                    pity_after=pity_after, **extra)
    game = management.create_game(data, actor_id=actor_id, now=now)
    for kind_, label, weight, stock, points in prizes or [("points", TOP, 1, 10, 1000),
                                                           ("points", SMALL, 20, None, 50),
                                                           ("nothing", THANKS, 79, None, None)]:
        management.add_prize(game.id, PrizeData(kind=kind_, label=label, label_zh=label, weight=weight, stock=stock,
                                                points=points if kind_ == "points" else None,
                                                item_id=points if kind_ == "item" else None,
                                                cost_points=(points or 0) if kind_ == "points" else (
                                                    200 if kind_ == "item" else 0)),
                             actor_id=actor_id, now=now)
    if open_it:
        management.open_game(game.id, actor_id=actor_id, now=now)
    return game
