"""Demo data for games, loaded by `flask mall demo`: an open points blind box and an open
spin wheel (one of its prizes a red packet for the wallet), playable by every member
(silver@example.com among them). Idempotent."""
from datetime import datetime, timedelta

from sqlalchemy import select

from ..extensions import db
from . import management
from .management import GameData, PrizeData
from .models import Game

DEMO_GAMES = [
    (GameData(name="Lucky blind box", name_zh="积分盲盒", kind="blind_box", starts_at=None, ends_at=None,
              cost_kind="points", cost_points=20, budget_points=50_000, daily_limit=10, total_limit=100,
              pity_after=10),
     [PrizeData(kind="points", label="500 points", label_zh="500 积分", points=500, weight=2, stock=20),
      PrizeData(kind="points", label="50 points", label_zh="50 积分", points=50, weight=28),
      PrizeData(kind="points", label="10 points", label_zh="10 积分", points=10, weight=30),
      PrizeData(kind="nothing", label="Thanks for playing", label_zh="谢谢参与", weight=40)]),
    (GameData(name="Spin wheel", name_zh="幸运大转盘", kind="wheel", starts_at=None, ends_at=None,
              cost_kind="points", cost_points=50, budget_points=30_000, daily_limit=3, total_limit=30),
     [PrizeData(kind="points", label="1,000 points", label_zh="1000 积分", points=1000, weight=1, stock=5),
      PrizeData(kind="red_packet", label="¥5 red packet", label_zh="5 元红包", packet_minor=500, weight=4, stock=50),
      PrizeData(kind="points", label="100 points", label_zh="100 积分", points=100, weight=15),
      PrizeData(kind="points", label="30 points", label_zh="30 积分", points=30, weight=40),
      PrizeData(kind="nothing", label="Thanks for playing", label_zh="谢谢参与", weight=40)]),
]


def load_games_demo(now: datetime, actor_id: int | None) -> None:
    for data, prizes in DEMO_GAMES:
        if db.session.scalar(select(Game.id).where(Game.name == data.name)) is not None:
            continue
        data.starts_at, data.ends_at = now - timedelta(days=1), now + timedelta(days=60)
        game = management.create_game(data, actor_id=actor_id, now=now)
        for prize in prizes:
            management.add_prize(game.id, prize, actor_id=actor_id, now=now)
        management.open_game(game.id, actor_id=actor_id, now=now)
    db.session.flush()
