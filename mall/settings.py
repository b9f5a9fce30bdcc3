"""The settings services need, built once at start-up from the app's config.

Services take a `Settings` (or the one value they need) as an argument instead of reading
`current_app.config`, so each default lives in `config.py` alone and a service is callable
from a view, a job, the CLI or a test alike. Views, jobs and the CLI get it with `current()`.
"""
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from flask import current_app


@dataclass(frozen=True)
class RiskLimits:
    velocity: dict            # {"member"|"device"|"ip": (max earns, window seconds)}
    cluster_size: int
    new_account_days: int
    high_value_points: int
    high_value_minor: int
    address_orders: int
    private_addresses: bool


@dataclass(frozen=True)
class TaskRewards:
    checkin_points: int
    streak_days: int
    streak_bonus: int
    profile_points: int
    referral_points: int
    daily_cap: int
    monthly_cap: int


@dataclass(frozen=True)
class RfmThresholds:
    loyal_days: int
    loyal_purchases: int
    loyal_spend_minor: int
    potential_days: int
    dormant_days: int


@dataclass(frozen=True)
class GrantLimits:
    store_monthly_points: int   # the budget of a store without one of its own
    staff_grant_max: int        # a staff grant above this waits for HQ
    staff_daily_max: int        # a store's staff grants above this in one shop-local day wait for HQ
    programme_monthly_points: int = 20000  # the budget of a campaign or task kind HQ has not set


@dataclass(frozen=True)
class Settings:
    timezone: str
    currency: str
    earn_base_minor_per_point: int
    points_per_currency_unit: int
    point_value_minor_per_100: int
    hold_minutes: int
    pickup_days: int
    receipt_code_hours: int
    tasks: TaskRewards
    risk: RiskLimits
    rfm: RfmThresholds
    grants: GrantLimits
    return_window_days: int = 0  # purchase points pending this long (0: spendable at once)
    coupon_reminder_days: int = 3  # a coupon's "expiring soon" reminder, days before expiry
    secret_key: str = field(repr=False, default="")  # signs pickup codes, receipts and reset links
    password_hash_fast: bool = False  # cheap Argon2 parameters (tests only)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_config(cls, config) -> "Settings":
        c = config
        return cls(
            timezone=c["BABEL_DEFAULT_TIMEZONE"], currency=c["MALL_CURRENCY"],
            earn_base_minor_per_point=c["MALL_EARN_BASE_MINOR_PER_POINT"],
            points_per_currency_unit=c["MALL_POINTS_PER_CURRENCY_UNIT"],
            point_value_minor_per_100=c["MALL_POINT_VALUE_MINOR_PER_100"],
            hold_minutes=c["MALL_HOLD_MINUTES"], pickup_days=c["MALL_PICKUP_DAYS"],
            receipt_code_hours=c["MALL_RECEIPT_CODE_HOURS"],
            tasks=TaskRewards(
                checkin_points=c["MALL_TASK_CHECKIN_POINTS"], streak_days=c["MALL_TASK_STREAK_DAYS"],
                streak_bonus=c["MALL_TASK_STREAK_BONUS"], profile_points=c["MALL_TASK_PROFILE_POINTS"],
                referral_points=c["MALL_TASK_REFERRAL_POINTS"], daily_cap=c["MALL_TASK_DAILY_CAP"],
                monthly_cap=c["MALL_TASK_MONTHLY_CAP"]),
            risk=RiskLimits(
                velocity=dict(c["MALL_RISK_VELOCITY"]), cluster_size=c["MALL_RISK_CLUSTER_SIZE"],
                new_account_days=c["MALL_RISK_NEW_ACCOUNT_DAYS"], high_value_points=c["MALL_RISK_HIGH_VALUE_POINTS"],
                high_value_minor=c["MALL_RISK_HIGH_VALUE_MINOR"], address_orders=c["MALL_RISK_ADDRESS_ORDERS"],
                private_addresses=bool(c["MALL_RISK_PRIVATE_ADDRESSES"])),
            rfm=RfmThresholds(
                loyal_days=int(c["MALL_RFM_LOYAL_DAYS"]), loyal_purchases=int(c["MALL_RFM_LOYAL_PURCHASES"]),
                loyal_spend_minor=int(c["MALL_RFM_LOYAL_SPEND_MINOR"]),
                potential_days=int(c["MALL_RFM_POTENTIAL_DAYS"]), dormant_days=int(c["MALL_RFM_DORMANT_DAYS"])),
            grants=GrantLimits(
                store_monthly_points=int(c["MALL_STORE_DEFAULT_MONTHLY_POINTS"]),
                staff_grant_max=int(c["MALL_STAFF_GRANT_MAX_POINTS"]),
                staff_daily_max=int(c["MALL_STAFF_GRANT_DAILY_POINTS"]),
                programme_monthly_points=int(c["MALL_PROGRAMME_DEFAULT_MONTHLY_POINTS"])),
            return_window_days=int(c["MALL_RETURN_WINDOW_DAYS"]),
            coupon_reminder_days=int(c.get("MALL_COUPON_REMINDER_DAYS", 3)),
            secret_key=c["SECRET_KEY"], password_hash_fast=bool(c.get("PASSWORD_HASH_FAST")),
        )


def current() -> Settings:
    """The running app's settings, built at start-up (create_app). Views, jobs and the CLI
    pass values on to services; event receivers and deep helpers read them here, the one
    place settings come from."""
    return current_app.extensions["mall.settings"]


def reload(app) -> Settings:
    """Rebuild after the app's config changed (tests that tighten a limit do this)."""
    app.extensions["mall.settings"] = Settings.from_config(app.config)
    return app.extensions["mall.settings"]
