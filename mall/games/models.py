"""Games (issue 14): a blind box (盲盒), a spin wheel (大转盘) or a nine-cell grid (九宫格) that
members play with points or with draws earned by tasks, with a hard cost cap and verifiable
odds (docs/games.md).

Invariants backed by the schema:
- a prize is never awarded beyond its stock: CHECK (stock IS NULL OR awarded <= stock), and
  the award is one conditional UPDATE (mall/games/play.py);
- a member's play numbers are unique per game (the draw is derived from them), and one play
  per submitted form: UNIQUE (game_id, member_id, play_no) and (game_id, member_id,
  idempotency_key);
- a member never uses more draws than earned: CHECK (used <= earned);
- the cost of the prizes is charged to the game's programme budget (scope "game"), whose
  month row is CHECK (used_points <= limit_points) in mall/budgets.
"""
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..types import UTCDateTime


class GameKind(StrEnum):
    BLIND_BOX = "blind_box"
    WHEEL = "wheel"
    GRID = "grid"


class GameStatus(StrEnum):
    DRAFT = "draft"    # prizes editable; nothing published
    OPEN = "open"      # prizes frozen, commitment published, playable inside the window
    CLOSED = "closed"  # seed revealed: every draw can be checked


class PlayCost(StrEnum):
    POINTS = "points"
    DRAW = "draw"      # a draw earned by a task (DrawTask)


class DrawTask(StrEnum):
    CHECKIN_STREAK = "checkin_streak"  # every `streak_days` consecutive check-ins earn one draw
    FIRST_PURCHASE = "first_purchase"  # a member's first purchase earns one draw


class PrizeKind(StrEnum):
    POINTS = "points"
    ITEM = "item"        # a catalogue item, delivered as an order ready for pickup
    COUPON = "coupon"          # a coupon of a wallet coupon spec (mall/wallet)
    RED_PACKET = "red_packet"  # a red packet of a fixed value in the wallet (mall/wallet)
    NOTHING = "nothing"  # "thanks for playing"


KINDS = tuple(k.value for k in GameKind)
STATUSES = tuple(s.value for s in GameStatus)
PRIZE_KINDS = tuple(k.value for k in PrizeKind)
FALLBACK_REASONS = ("stock", "budget", "item_stock", "coupon")  # coupon: the wallet refused (spec limit, ended)
RED_PACKET_DAYS = 30  # a red packet won in a game is valid this long


class Game(db.Model):
    __tablename__ = "games"
    __table_args__ = (
        CheckConstraint(f"kind IN {KINDS!r}", name="known_kind"),
        CheckConstraint(f"status IN {STATUSES!r}", name="known_status"),
        CheckConstraint("cost_kind IN ('points', 'draw')", name="known_cost_kind"),
        CheckConstraint("cost_points >= 0", name="cost_not_negative"),
        CheckConstraint("(cost_kind = 'points' AND cost_points > 0) OR (cost_kind = 'draw' AND draw_task IS NOT NULL)",
                        name="cost_is_set"),
        CheckConstraint("draw_task IS NULL OR draw_task IN ('checkin_streak', 'first_purchase')",
                        name="known_draw_task"),
        CheckConstraint("daily_limit > 0 AND total_limit >= daily_limit", name="limits_positive"),
        CheckConstraint("pity_after IS NULL OR pity_after > 0", name="pity_positive"),
        CheckConstraint("budget_points > 0", name="budget_positive"),
        CheckConstraint("ends_at > starts_at", name="window_forward"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    name_zh: Mapped[str | None] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(10), default=GameStatus.DRAFT.value)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cost_kind: Mapped[str] = mapped_column(String(10))
    cost_points: Mapped[int] = mapped_column(default=0)
    draw_task: Mapped[str | None] = mapped_column(String(20))
    streak_days: Mapped[int | None]
    daily_limit: Mapped[int]
    total_limit: Mapped[int]
    # Who may play: tier codes and RFM segments; an empty list means everyone.
    tiers: Mapped[list] = mapped_column(JSON, default=list)
    segments: Mapped[list] = mapped_column(JSON, default=list)
    pity_after: Mapped[int | None]
    budget_points: Mapped[int]
    programme_budget_id: Mapped[int | None] = mapped_column(ForeignKey("programme_budgets.id"))
    # The secret seed (hex) is never shown before the game closes; its SHA-256 is.
    seed_hex: Mapped[str] = mapped_column(String(64))
    commitment: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    prizes: Mapped[list["GamePrize"]] = relationship(back_populates="game", order_by="GamePrize.position",
                                                     cascade="all, delete-orphan")

    @property
    def revealed_seed(self) -> str | None:
        return self.seed_hex if self.status == GameStatus.CLOSED.value else None


class GamePrize(db.Model):
    __tablename__ = "game_prizes"
    __table_args__ = (
        UniqueConstraint("game_id", "position", name="one_prize_per_position"),
        CheckConstraint(f"kind IN {PRIZE_KINDS!r}", name="known_kind"),
        CheckConstraint("weight > 0", name="weight_positive"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
        CheckConstraint("awarded >= 0 AND (stock IS NULL OR awarded <= stock)", name="never_beyond_stock"),
        CheckConstraint("cost_points >= 0", name="cost_not_negative"),
        CheckConstraint("(kind = 'points') = (points IS NOT NULL AND points > 0)", name="points_prize_has_points"),
        CheckConstraint("(kind = 'item') = (item_id IS NOT NULL)", name="item_prize_has_item"),
        CheckConstraint("(kind = 'coupon') = (coupon_spec_id IS NOT NULL)", name="coupon_prize_has_spec"),
        CheckConstraint("(kind = 'red_packet') = (packet_minor IS NOT NULL AND packet_minor > 0)",
                        name="red_packet_has_value"),
        CheckConstraint("kind <> 'nothing' OR (cost_points = 0 AND stock IS NULL)", name="nothing_is_free"),
        CheckConstraint("cost_points > 0 OR stock IS NULL", name="free_prizes_unlimited"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("games.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(String(10))
    label: Mapped[str] = mapped_column(String(80))
    label_zh: Mapped[str | None] = mapped_column(String(80))
    points: Mapped[int | None]
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"))
    coupon_spec_id: Mapped[int | None] = mapped_column(ForeignKey("coupon_specs.id"))
    packet_minor: Mapped[int | None]      # a red packet's value, in fen
    weight: Mapped[int]
    stock: Mapped[int | None]             # None: unlimited
    awarded: Mapped[int] = mapped_column(default=0)
    # What one award costs the budget, in points (a points prize: its points).
    cost_points: Mapped[int] = mapped_column(default=0)

    game: Mapped[Game] = relationship(back_populates="prizes")

    @property
    def valuable(self) -> bool:
        return self.cost_points > 0

    @property
    def left(self) -> int | None:
        return None if self.stock is None else self.stock - self.awarded


class GamePlay(db.Model):
    """One play and everything needed to check its draw (docs/games.md)."""

    __tablename__ = "game_plays"
    __table_args__ = (
        UniqueConstraint("game_id", "member_id", "play_no", name="one_play_per_number"),
        UniqueConstraint("game_id", "member_id", "idempotency_key", name="one_play_per_submit"),
        CheckConstraint("play_no > 0", name="play_no_positive"),
        CheckConstraint("points_paid >= 0 AND cost_points >= 0", name="amounts_not_negative"),
        CheckConstraint("draw_value >= 0 AND draw_value < draw_total", name="value_in_range"),
        Index("ix_game_plays_member_game_day", "member_id", "game_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("games.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    play_no: Mapped[int]
    idempotency_key: Mapped[str] = mapped_column(String(64))
    day: Mapped[date]                      # the shop-local day, for the daily limit
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    points_paid: Mapped[int] = mapped_column(default=0)
    used_draw: Mapped[bool] = mapped_column(default=False)
    # The draw: HMAC-SHA256(seed, message) as hex, the rejection-sampling attempt that was
    # accepted, the total weight it was mapped onto and the value in [0, draw_total).
    digest: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(default=0)
    draw_total: Mapped[int]
    draw_value: Mapped[int]
    pity: Mapped[bool] = mapped_column(default=False)
    drawn_prize_id: Mapped[int] = mapped_column(ForeignKey("game_prizes.id"))
    prize_id: Mapped[int] = mapped_column(ForeignKey("game_prizes.id"), index=True)
    # Prizes passed over on the way down the ladder: [[prize_id, reason], ...].
    fallbacks: Mapped[list] = mapped_column(JSON, default=list)
    cost_points: Mapped[int] = mapped_column(default=0)
    spend_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    credit_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("discretionary_grants.id"))
    wallet_item_id: Mapped[int | None] = mapped_column(ForeignKey("wallet_items.id"))

    prize: Mapped[GamePrize] = relationship(foreign_keys=[prize_id])
    game: Mapped[Game] = relationship()


class DrawBalance(db.Model):
    """Draws a member earned by a game's task, and used."""

    __tablename__ = "game_draw_balances"
    __table_args__ = (CheckConstraint("used >= 0 AND used <= earned", name="never_beyond_earned"),)

    game_id: Mapped[int] = mapped_column(ForeignKey("games.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    earned: Mapped[int] = mapped_column(default=0)
    used: Mapped[int] = mapped_column(default=0)


class DrawCredit(db.Model):
    """One earned draw, once per task event (UNIQUE)."""

    __tablename__ = "game_draw_credits"
    __table_args__ = (UniqueConstraint("game_id", "member_id", "reason_key", name="one_draw_per_event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("games.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
